// Browser code shared by the admin page's scripts (served as separate files, so each carries it).

/** `bytes(n)`: a byte count as B, KiB, MiB or GiB. Plain ES2017. */
export const FORMAT_BYTES_JS = `function bytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
    return (n / 1073741824).toFixed(2) + ' GiB';
  }`;

/**
 * Table rows of connections, as both pages show them: `connectionRow(c)` (a row classed by its
 * verdict), `cell(tr, text, cls)`, `peer(p)` (`workload (ip:port)`) and `endpointCells(tr, c)`
 * (source and destination identity and address, bytes each way). Plain ES2017; needs `bytes`.
 */
export const CONNECTION_CELLS_JS = `function connectionRow(c) {
    var tr = document.createElement('tr');
    tr.setAttribute('data-id', String(c.id));
    tr.className = c.verdict;
    return tr;
  }
  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  function peer(p) {
    var a = String(p.address).indexOf(':') >= 0 ? '[' + p.address + ']' : String(p.address);
    var s = a + ':' + p.port;
    return p.workload ? p.workload + ' (' + s + ')' : s;
  }
  function endpointCells(tr, c) {
    cell(tr, c.src.identity || '-');
    cell(tr, peer(c.src), 'src');
    cell(tr, c.dst.identity || '-');
    cell(tr, peer(c.dst) + (c.dst.service ? ' via ' + c.dst.service : ''), 'dst');
    cell(tr, bytes(c.bytesSent), 'num');
    cell(tr, bytes(c.bytesReceived), 'num');
  }`;
