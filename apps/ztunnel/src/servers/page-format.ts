// Browser code shared by the admin page's scripts (served as separate files, so each carries it).

/** `bytes(n)`: a byte count as B, KiB, MiB or GiB. Plain ES2017. */
export const FORMAT_BYTES_JS = `function bytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
    return (n / 1073741824).toFixed(2) + ' GiB';
  }`;
