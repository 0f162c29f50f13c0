/**
 * A minimal XML well-formedness checker and tree builder for tests (no dependency):
 * balanced tags, quoted attributes, no raw `<` or stray `&` in text or attribute values.
 * Enough for the JUnit and HTML we write; not a general XML parser (no DTDs, no CDATA).
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

function checkText(s: string, where: string): void {
  const bare = s.replace(ENTITY, '');
  if (bare.includes('&')) throw new Error(`unescaped & ${where}: ${JSON.stringify(s.slice(0, 60))}`);
  if (bare.includes('<')) throw new Error(`unescaped < ${where}: ${JSON.stringify(s.slice(0, 60))}`);
}

function unescape(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Parse `xml` and return its root element; throws with a reason when not well-formed. */
export function parseXml(xml: string): XmlElement {
  let s = xml.replace(/^\uFEFF?<\?xml[^?]*\?>\s*/, '');
  s = s.replace(/<!--[\s\S]*?-->/g, '');
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*"[^"]*")*)\s*(\/?)>/y;
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let i = 0;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    const text = s.slice(i, lt === -1 ? s.length : lt);
    checkText(text, `in text of <${stack.at(-1)!.name}>`);
    stack.at(-1)!.text += unescape(text);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(s);
    if (!m) throw new Error(`malformed tag at offset ${lt}: ${JSON.stringify(s.slice(lt, lt + 40))}`);
    const [whole, close, name, attrText, selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (!open || open.name !== name || stack.length === 0) throw new Error(`</${name}> closes <${open?.name ?? 'nothing'}>`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText!.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*"([^"]*)"/g)) {
        checkText(a[2]!, `in attribute ${a[1]} of <${name}>`);
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
        attrs[a[1]!] = unescape(a[2]!);
      }
      const el: XmlElement = { name: name!, attrs, children: [], text: '' };
      stack.at(-1)!.children.push(el);
      if (!selfClose) stack.push(el);
    }
    i = lt + whole.length;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (root.children.length !== 1) throw new Error(`expected one root element, found ${root.children.length}`);
  if (root.text.trim() !== '') throw new Error('text outside the root element');
  return root.children[0]!;
}

export function findAll(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (c.name === name) out.push(c);
    out.push(...findAll(c, name));
  }
  return out;
}
