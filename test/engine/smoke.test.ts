import test from 'ava';
test('runs on node 26', (t) => { t.true(Number(process.versions.node.split('.')[0]) >= 26); });
