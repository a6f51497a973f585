/**
 * User Property order. mqtt-packet's shape groups user properties by name ({ z: ['1', '3'], a: '2' }),
 * which loses the wire order of interleaved names; the server must forward them unaltered and in order
 * [MQTT-3.3.2-17] [MQTT-3.3.2-18]. Decoded user-property objects therefore carry their wire order in a
 * non-enumerable symbol (invisible to deepStrictEqual, JSON and spreading of the parent properties object),
 * and the encoder writes that order whenever it still matches the object's contents.
 * Pure; called from: worker.
 */

/** User properties in mqtt-packet's shape. */
export type UserProperties = Record<string, string | string[]>;

/** Flat [name, value, name, value, …] wire order of a user-properties object. */
const WIRE_ORDER = Symbol('culex.userProperties.wireOrder');
type Ordered = UserProperties & { [WIRE_ORDER]?: string[] };

/** Adds one decoded pair to `userProperties` (a null-prototype object), recording the wire order. */
export function addUserProperty(userProperties: UserProperties, name: string, value: string): void {
  const ordered = userProperties as Ordered;
  let order = ordered[WIRE_ORDER];
  if (order === undefined) {
    order = [];
    Object.defineProperty(ordered, WIRE_ORDER, { value: order, enumerable: false });
  }
  order.push(name, value);
  const previous = userProperties[name];
  if (previous === undefined) userProperties[name] = value;
  else if (Array.isArray(previous)) previous.push(value);
  else userProperties[name] = [previous, value];
}

/** Builds a user-properties object from ordered pairs, keeping their order for the encoder
 *  (for restoring a message from storage that kept the pairs). */
export function userPropertiesFromPairs(pairs: ReadonlyArray<readonly [string, string]>): UserProperties {
  const userProperties = Object.create(null) as UserProperties;
  for (const [name, value] of pairs) addUserProperty(userProperties, name, value);
  return userProperties;
}

/** The pairs of `userProperties` in wire order when it is known and still matches the object (it was
 *  decoded or built by userPropertiesFromPairs and not modified since); otherwise grouped by name in key order. */
export function userPropertyPairs(userProperties: UserProperties): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const order = (userProperties as Ordered)[WIRE_ORDER];
  let count = 0;
  for (const name in userProperties) {
    const values = userProperties[name]!;
    if (Array.isArray(values)) {
      for (const value of values) pairs.push([name, String(value)]);
      count += values.length;
    } else {
      pairs.push([name, String(values)]);
      count++;
    }
  }
  if (order === undefined || order.length !== 2 * count || !matches(userProperties, order)) return pairs;
  for (let i = 0; i < count; i++) pairs[i] = [order[2 * i]!, order[2 * i + 1]!];
  return pairs;
}

/** True when the flat wire order lists exactly the object's values, name by name in sequence. */
function matches(userProperties: UserProperties, order: string[]): boolean {
  const used = new Map<string, number>();
  for (let i = 0; i < order.length; i += 2) {
    const name = order[i]!;
    const values = userProperties[name];
    const k = used.get(name) ?? 0;
    used.set(name, k + 1);
    if (Array.isArray(values) ? values[k] !== order[i + 1] : k > 0 || values !== order[i + 1]) return false;
  }
  return true;
}
