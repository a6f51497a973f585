/**
 * The strftime(3) conversions log_timestamp_format may use, in local time (TZ), as glibc prints
 * them in the C locale. A format is compiled once into a list of parts; a conversion this module
 * does not know is printed as written (glibc does the same).
 * called from: main, worker, tests
 */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const space2 = (n: number): string => (n < 10 ? ` ${n}` : String(n));
const pad3 = (n: number): string => String(n).padStart(3, '0');

function dayOfYear(d: Date): number {
  const start = new Date(d.getFullYear(), 0, 1);
  return Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(start.getFullYear(), 0, 1)) / 86400000) + 1;
}

/** "+0100": the local offset from UTC at `d`. */
function offset(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

/**
 * The local time zone's abbreviation at `d` ("UTC", "EST"; "GMT+1" where Intl knows none). Not
 * cached: a formatter keeps the zone it was made in, and a stamp is formatted once a second at most.
 */
function zoneName(d: Date): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d);
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
}

const hour12 = (d: Date): number => d.getHours() % 12 || 12;

/** Each conversion letter and what it prints. */
const CONVERSIONS: Readonly<Record<string, (d: Date) => string>> = {
  a: (d) => DAYS[d.getDay()]!.slice(0, 3),
  A: (d) => DAYS[d.getDay()]!,
  b: (d) => MONTHS[d.getMonth()]!.slice(0, 3),
  h: (d) => MONTHS[d.getMonth()]!.slice(0, 3),
  B: (d) => MONTHS[d.getMonth()]!,
  c: (d) => `${CONVERSIONS.a!(d)} ${CONVERSIONS.b!(d)} ${space2(d.getDate())} ${CONVERSIONS.T!(d)} ${d.getFullYear()}`,
  C: (d) => pad2(Math.floor(d.getFullYear() / 100)),
  d: (d) => pad2(d.getDate()),
  D: (d) => `${pad2(d.getMonth() + 1)}/${pad2(d.getDate())}/${pad2(d.getFullYear() % 100)}`,
  e: (d) => space2(d.getDate()),
  F: (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`,
  H: (d) => pad2(d.getHours()),
  I: (d) => pad2(hour12(d)),
  j: (d) => pad3(dayOfYear(d)),
  k: (d) => space2(d.getHours()),
  l: (d) => space2(hour12(d)),
  m: (d) => pad2(d.getMonth() + 1),
  M: (d) => pad2(d.getMinutes()),
  n: () => '\n',
  p: (d) => (d.getHours() < 12 ? 'AM' : 'PM'),
  r: (d) => `${pad2(hour12(d))}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${d.getHours() < 12 ? 'AM' : 'PM'}`,
  R: (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}`,
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  S: (d) => pad2(d.getSeconds()),
  t: () => '\t',
  T: (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`,
  u: (d) => String(d.getDay() || 7),
  w: (d) => String(d.getDay()),
  x: (d) => CONVERSIONS.D!(d),
  X: (d) => CONVERSIONS.T!(d),
  y: (d) => pad2(d.getFullYear() % 100),
  Y: (d) => String(d.getFullYear()),
  z: offset,
  Z: zoneName,
  '%': () => '%',
};

/** A compiled format: call it with a time to get the text. */
export type TimeFormat = (d: Date) => string;

/** Compiles `format` (strftime syntax) once; the result formats any number of times. */
export function compileStrftime(format: string): TimeFormat {
  const parts: (string | ((d: Date) => string))[] = [];
  let text = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    const conv = c === '%' && i + 1 < format.length ? CONVERSIONS[format[i + 1]!] : undefined;
    if (conv === undefined) {
      text += c;
      continue;
    }
    if (text.length > 0) parts.push(text);
    text = '';
    parts.push(conv);
    i++;
  }
  if (text.length > 0) parts.push(text);
  return (d) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(d);
    return out;
  };
}

/** strftime(format, d) in one call (tests, one-off use). */
export function strftime(format: string, d: Date): string {
  return compileStrftime(format)(d);
}
