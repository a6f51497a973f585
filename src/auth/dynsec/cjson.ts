/**
 * The parts of cJSON's behaviour that Mosquitto's dynamic security plugin shows to the outside,
 * over values from JSON.parse:
 *   - object members are looked up without regard to ASCII case, the first match winning
 *     (cJSON_GetObjectItem: the file written by `mosquitto_ctrl dynsec init` says `textName`
 *     and the plugin reads it as `textname`);
 *   - numbers are read as C ints (valueint: truncated, saturated at INT_MIN/INT_MAX);
 *   - the json_get_* helpers of plugins/dynamic-security/json_help.c;
 *   - cJSON_Print's formatted output (tabs, `"key":<TAB>value`, arrays on one line with ", "),
 *     which is how the plugin writes its file. cJSON_PrintUnformatted is JSON.stringify.
 * called from: main
 */

/** A parsed JSON object (JSON.parse output). */
export type JsonObject = { readonly [key: string]: unknown };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** cJSON_GetObjectItem: the first member whose name equals `name` ignoring ASCII case. */
export function getItem(obj: JsonObject, name: string): unknown {
  const lower = lowerAscii(name);
  for (const key of Object.keys(obj)) if (key.length === name.length && lowerAscii(key) === lower) return obj[key];
  return undefined;
}

function lowerAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

const INT_MAX = 2147483647;
const INT_MIN = -2147483648;

/** cJSON's valueint of a number. */
export function cInt(n: number): number {
  if (n >= INT_MAX) return INT_MAX;
  if (n <= INT_MIN) return INT_MIN;
  return Math.trunc(n);
}

/** json_get_string: the string; `invalid` when the member is there but is not a string. */
export function getString(obj: JsonObject, name: string): { value: string | undefined; invalid: boolean } {
  const v = getItem(obj, name);
  if (v === undefined) return { value: undefined, invalid: false };
  return typeof v === 'string' ? { value: v, invalid: false } : { value: undefined, invalid: true };
}

/** json_get_int(…, optional = true, default): the default when absent or not a number. */
export function getInt(obj: JsonObject, name: string, fallback: number): number {
  const v = getItem(obj, name);
  return typeof v === 'number' ? cInt(v) : fallback;
}

/** json_get_bool(…, optional = true, default): the default when absent or not a boolean. */
export function getBool(obj: JsonObject, name: string, fallback: boolean): boolean {
  const v = getItem(obj, name);
  return typeof v === 'boolean' ? v : fallback;
}

/**
 * cJSON_Print of a value built from objects (insertion order), arrays, strings, integers and
 * booleans: what the plugin writes to its file, byte for byte.
 */
export function printFormatted(value: unknown): string {
  return print(value, 0);
}

function print(value: unknown, depth: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return '[' + value.map((v) => print(v, depth + 1)).join(', ') + ']';
  }
  if (isObject(value)) {
    const inner = '\t'.repeat(depth + 1);
    let out = '{\n';
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    keys.forEach((k, i) => {
      out += `${inner}${JSON.stringify(k)}:\t${print(value[k], depth + 1)}${i < keys.length - 1 ? ',' : ''}\n`;
    });
    return out + '\t'.repeat(depth) + '}';
  }
  return JSON.stringify(value);
}
