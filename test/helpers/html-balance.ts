/**
 * A small well-formedness check for the HTML we generate: every non-void element is closed in
 * order, attributes are quoted, and nothing but comments and the doctype sits outside the tags.
 * Returns the problems found (empty when the document is well formed).
 */
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
/** Elements whose content is raw text: no tags are parsed inside them. */
const RAW = new Set(['script', 'style']);

export function htmlProblems(html: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const tag = /<!--[\s\S]*?-->|<!DOCTYPE[^>]*>|<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:="[^"]*")?)*)\s*(\/?)>/g;
  let position = 0;
  let match: RegExpExecArray | null;
  while ((match = tag.exec(html)) !== null) {
    const between = html.slice(position, match.index);
    if (between.includes('<')) problems.push(`unparsed markup near ${JSON.stringify(between.slice(between.indexOf('<'), between.indexOf('<') + 40))}`);
    position = tag.lastIndex;
    const [, closing, rawName, , selfClosing] = match;
    if (rawName === undefined) continue;
    const name = rawName.toLowerCase();
    if (closing === '/') {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? 'nothing'}>`);
    } else if (!VOID.has(name) && selfClosing !== '/') {
      stack.push(name);
      if (RAW.has(name)) {
        const end = html.toLowerCase().indexOf(`</${name}>`, position);
        if (end < 0) problems.push(`<${name}> never closed`);
        else tag.lastIndex = position = end;
      }
    }
  }
  if (html.slice(position).includes('<')) problems.push('unparsed markup at the end');
  for (const open of stack) problems.push(`<${open}> never closed`);
  return problems;
}
