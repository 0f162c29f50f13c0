/*
 * index.html's script, inlined into the page by html.ts (a page opened from disk cannot fetch
 * side files). Plain ES2020 for browsers, no dependencies. It filters and sorts the signature
 * rows the page already has, and renders a divergence's details (program, bit-range tables,
 * flags, memory, states, replay) from the embedded JSON when its row is opened: rendering all
 * of them up front is what made reports of hundreds of divergences megabytes long and slow.
 *
 * `renderDetail(data, i)` is pure (data in, HTML text out) so that the tests can run it in Node.
 */

/** Escape for HTML text and attribute values. */
function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function pad16(h) {
  return h.padStart(16, '0');
}

function hexAdd(h, n) {
  return (BigInt('0x' + h) + BigInt(n)).toString(16);
}

function table(head, rows, rowClass) {
  const th = head.map((h) => '<th>' + esc(h) + '</th>').join('');
  const body = rows.map((r, i) => {
    const cls = rowClass ? rowClass(i) : '';
    return '<tr' + (cls ? ' class="' + cls + '"' : '') + '>' + r.map((c) => '<td>' + c + '</td>').join('') + '</tr>';
  }).join('');
  return '<table><thead><tr>' + th + '</tr></thead><tbody>' + body + '</tbody></table>';
}

function code(s) {
  return '<code>' + esc(s) + '</code>';
}

/** 64-bit values are read in three ranges (the seed notes' table); narrower fields as one. */
function bitRows(width, e, a) {
  const digits = e.length;
  const ranges = width === 64 ? [[63, 48, 0, 4], [47, 12, 4, 13], [11, 0, 13, 16]] : [[width - 1, 0, 0, digits]];
  return ranges.map(([hi, lo, from, to]) => {
    const x = e.slice(from, to);
    const y = a.slice(from, to);
    return { bits: hi + '..' + lo, e: '0x' + x, a: '0x' + y, wrong: x !== y };
  });
}

/** `0x` + digits, those that differ from the other value highlighted. */
function marked(value, other) {
  return '0x' + Array.from(value, (c, i) => (c !== other[i] ? '<span class="bit">' + esc(c) + '</span>' : esc(c))).join('');
}

function registerBlock(r) {
  const [label, width, e, a, span, bits] = r;
  const rows = bitRows(width, e, a);
  return '<h4>' + esc(label) + ': bits ' + esc(span) + ' differ <span class="meta">(exactly: ' + esc(bits) + ')</span></h4>' +
    '<pre>expected ' + marked(e, a) + '\nactual   ' + marked(a, e) + '</pre>' +
    table(['Bits', 'Expected', 'Actual', 'Status'],
      rows.map((x) => [esc(x.bits), code(x.e), code(x.a), x.wrong ? 'WRONG' : '<span class="ok">ok</span>']),
      (i) => (rows[i].wrong ? 'wrong' : 'ok'));
}

function memoryBlock(m) {
  const lines = [];
  for (const [addr, e, a] of m) {
    const n = Math.max(e.length, a.length) / 2;
    const byte = (h, i) => (2 * i < h.length ? h.slice(2 * i, 2 * i + 2) : '--');
    for (let off = 0; off < n; off += 16) {
      const idx = [];
      for (let i = off; i < Math.min(n, off + 16); i++) idx.push(i);
      const cells = (h, o) => idx.map((i) => (byte(h, i) !== byte(o, i) ? '<span class="bit">' + byte(h, i) + '</span>' : byte(h, i))).join(' ');
      lines.push('0x' + pad16(hexAdd(addr, off)) + '  expected ' + cells(e, a));
      lines.push(' '.repeat(18) + '  actual   ' + cells(a, e));
    }
  }
  return '<h4>Memory</h4><pre>' + lines.join('\n') + '</pre>';
}

/** The program with addresses, the divergent instruction marked, numbered from 1 as everywhere. */
function programTable(d) {
  let addr = d.a;
  const rows = d.p.map(([bytes, text], i) => {
    const row = [String(i + 1), code('0x' + pad16(addr)), code(bytes.replace(/(..)(?!$)/g, '$1 ')), code(text), i === d.x ? '◀ diverges' : ''];
    addr = hexAdd(addr, bytes.length / 2);
    return row;
  });
  return table(['#', 'Address', 'Bytes', 'Instruction', ''], rows, (i) => (i === d.x ? 'divergent' : ''));
}

function statesBlock(data, d) {
  const names = data.n;
  const lines = [];
  d.g.forEach((v, i) => { if (v) lines.push(names[i].padEnd(6) + ' 0x' + pad16(v)); });
  lines.push('RFLAGS 0x' + d.gf.slice(2));
  for (const [n, v] of d.o || []) lines.push(n.padEnd(6) + ' 0x' + pad16(v));
  let out = '<h4>Initial state (non-zero registers)</h4><pre>' + esc(lines.join('\n')) + '</pre>';
  if (d.bg || d.bf) {
    const changed = (d.bg || []).map(([i, v]) => names[i].padEnd(6) + ' 0x' + pad16(v));
    if (d.bf) changed.push('RFLAGS ' + d.bf);
    out += '<h4>Changed before instruction ' + (d.x + 1) + ' of ' + d.p.length + '</h4><pre>' + esc(changed.join('\n')) + '</pre>';
  }
  if (d.im.length) {
    const mem = d.im.map(([addr, len, first]) => '[0x' + pad16(addr) + '] ' + len + ' bytes: ' + first.replace(/(..)(?!$)/g, '$1 ') + (len > 16 ? ' …' : ''));
    out += '<h4>Initial memory (besides the program)</h4><pre>' + esc(mem.join('\n')) + '</pre>';
  }
  return out;
}

/** Replay commands name case files under "$REPORT_DIR"; opened from disk, the page knows that folder. */
function replayText(data, d, reportDir) {
  const cmd = data.t[0] + d.rp + data.t[1];
  return reportDir ? cmd.split('"$REPORT_DIR"').join(reportDir) : cmd;
}

/** The HTML for divergence `i` of `data` (the embedded JSON). */
function renderDetail(data, i, reportDir) {
  const d = data.d[i];
  const out = [];
  const facts = ['<li>Case ' + code(d.c) + (d.f ? ' in ' + code(d.f) : '') + (d.s ? ', seed ' + code(d.s) : '') + '</li>'];
  if (d.mz) facts.push('<li>Minimized: ' + d.mz[0] + ' → ' + d.mz[1] + (d.mz[1] === 1 ? ' instruction in ' : ' instructions in ') + d.mz[2].toFixed(1) + ' s</li>');
  else facts.push('<li>Not minimized: the case as generated</li>');
  if (d.e) {
    facts.push('<li>Exception, expected (oracle): ' + esc(d.e[0]) + '</li>');
    facts.push('<li>Exception, actual (DUT): ' + esc(d.e[1]) + '</li>');
  }
  facts.push('<li>Masked flags at this instruction: ' + esc(d.k || 'none') + '</li>');
  out.push('<ul>' + facts.join('') + '</ul>');
  out.push('<h4>Program</h4>' + programTable(d));
  for (const r of d.r) out.push(registerBlock(r));
  if (d.fl) {
    const [e, a, flags, other] = d.fl;
    const rows = flags.map(([n, x, y]) => [esc(n), String(x), String(y), 'WRONG']);
    if (other) rows.push(['bits ' + esc(other), '', '', 'WRONG']);
    out.push('<h4>RFLAGS</h4><p class="mono">expected ' + esc(e) + '<br>actual&nbsp;&nbsp; ' + esc(a) + '</p>' +
      table(['Flag', 'Expected', 'Actual', 'Status'], rows, () => 'wrong'));
  }
  if (d.m) out.push(memoryBlock(d.m));
  out.push(statesBlock(data, d));
  out.push('<h4>Replay</h4><pre class="replay">' + esc(replayText(data, d, reportDir)) + '</pre>');
  return out.join('');
}

/** A POSIX-shell word: as it is when safe, else single-quoted. */
function shellQuote(s) {
  return /^[\w@%+=:,./~-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
}

/** The folder this page was opened from, for file: pages (`/C:/x` on Windows becomes `C:/x`). */
function pageFolder(loc) {
  if (loc.protocol !== 'file:') return undefined;
  const p = decodeURIComponent(loc.pathname).replace(/\/[^/]*$/, '');
  return /^\/[A-Za-z]:\//.test(p) ? p.slice(1) : p;
}

/**
 * The embedded details: plain JSON, or (large reports) gzip in base64, which the browser's own
 * DecompressionStream unpacks (Chrome 80, Firefox 113, Safari 16.4 and later).
 */
async function loadData(el) {
  if (el.dataset.encoding !== 'gzip+base64') return JSON.parse(el.textContent);
  if (typeof DecompressionStream === 'undefined') {
    throw new Error('this browser cannot unpack the details (it has no DecompressionStream); result.json holds them');
  }
  const bytes = Uint8Array.from(atob(el.textContent.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return JSON.parse(await new Response(stream).text());
}

function init(document, location) {
  const dataEl = document.getElementById('difftest-data');
  if (!dataEl) return;
  let data;
  const load = () => (data = data || loadData(dataEl));
  const folder = pageFolder(location);
  const reportDir = folder && shellQuote(folder);
  const note = document.getElementById('replay-here');
  if (note && folder) {
    note.hidden = false;
    note.querySelector('code').textContent = folder;
  }

  const rows = Array.from(document.querySelectorAll('tr[data-c]'));
  for (const r of rows) r.querySelector('button').setAttribute('aria-label', 'details');
  const groups = Array.from(document.querySelectorAll('details.group'));
  const rowsOf = new Map(groups.map((g) => [g, Array.from(g.querySelectorAll('tr[data-c]'))]));

  function toggle(tr, open) {
    const next = tr.nextElementSibling;
    const isOpen = next && next.classList.contains('detail');
    if (open === undefined) open = !isOpen;
    const button = tr.querySelector('button');
    if (open && !isOpen) {
      const detail = document.createElement('tr');
      detail.className = 'detail';
      const td = document.createElement('td');
      td.colSpan = tr.children.length;
      td.textContent = '…';
      detail.appendChild(td);
      tr.after(detail);
      load().then(
        (d) => { td.innerHTML = renderDetail(d, Number(tr.id.slice(1)), reportDir); },
        (err) => { td.textContent = 'Cannot show the details: ' + err.message; },
      );
    } else if (!open && isOpen) next.remove();
    if (button) button.setAttribute('aria-expanded', String(open));
  }

  document.addEventListener('click', (ev) => {
    const button = ev.target.closest('tr[data-c] button');
    if (button) toggle(button.closest('tr'));
  });

  const controls = document.getElementById('controls');
  const field = (id) => document.getElementById(id);
  function apply() {
    const m = field('f-m').value;
    const f = field('f-f').value;
    const g = field('f-g').value;
    const q = field('f-q').value.trim().toLowerCase();
    const sort = field('sort').value;
    let shown = 0;
    for (const group of groups) {
      const own = rowsOf.get(group);
      const tbody = own.length ? own[0].parentNode : undefined;
      let visible = 0;
      for (const r of own) {
        const ok = (!m || r.dataset.m === m) && (!f || r.dataset.f.split(' ').includes(f)) &&
          (!g || group.dataset.g === g) && (!q || r.textContent.toLowerCase().includes(q));
        r.hidden = !ok;
        const next = r.nextElementSibling;
        if (next && next.classList.contains('detail')) next.hidden = !ok;
        if (ok) visible++;
      }
      const key = (r) => (sort === 'c' ? -Number(r.dataset.c) : sort === 'm' ? r.dataset.m : sort === 'f' ? r.dataset.f : r.children[1].textContent);
      const sorted = own.slice().sort((a, b) => {
        const x = key(a);
        const y = key(b);
        return x < y ? -1 : x > y ? 1 : Number(a.id.slice(1)) - Number(b.id.slice(1));
      });
      for (const r of sorted) {
        const next = r.nextElementSibling;
        tbody.appendChild(r);
        if (next && next.classList.contains('detail')) tbody.appendChild(next);
      }
      group.hidden = visible === 0 && own.length > 0;
      if ((m || f || g || q) && visible > 0) group.open = true;
      shown += visible;
    }
    const gsort = field('gsort').value;
    for (const list of document.querySelectorAll('.groups')) {
      const items = Array.from(list.children).filter((x) => x.matches('details.group'));
      const gkey = (x) => (gsort === 'c' ? -Number(x.dataset.c) : gsort === 'n' ? -Number(x.dataset.n) : Number(x.dataset.o));
      items.sort((a, b) => gkey(a) - gkey(b)).forEach((x) => list.appendChild(x));
    }
    field('shown').textContent = shown + ' of ' + rows.length + ' signatures shown';
  }
  if (controls) {
    controls.hidden = false;
    controls.addEventListener('input', apply);
    field('open-all').addEventListener('click', () => groups.forEach((x) => { if (!x.hidden) x.open = true; }));
    field('close-all').addEventListener('click', () => groups.forEach((x) => { x.open = false; }));
    apply();
  }

  // #d12 opens that divergence; #all opens every one (to print, or to search the page)
  function fromHash() {
    const id = decodeURIComponent(location.hash.slice(1));
    if (id === 'all') {
      groups.forEach((x) => { x.open = true; });
      rows.forEach((r) => toggle(r, true));
      return;
    }
    const target = id && document.getElementById(id);
    if (!target) return;
    const group = target.closest('details.group');
    if (group) group.open = true;
    if (target.matches('tr[data-c]')) toggle(target, true);
    target.scrollIntoView();
  }
  window.addEventListener('hashchange', fromHash);
  fromHash();
}

if (typeof document !== 'undefined') init(document, window.location);
