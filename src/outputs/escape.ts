// Attacker-controlled text (host names, user names, payload snippets) must not
// drive the operator's terminal: control characters, ANSI escapes and bidi
// overrides are shown as visible escapes.

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * JSON text with the same characters written as \uXXXX escapes: still valid
 * JSON that decodes to the same strings, but inert when the lines reach a
 * terminal. JSON.stringify leaves DEL, C1 controls (U+009B is CSI) and bidi
 * overrides raw; outside strings its output has none of them.
 */
export function escapeJsonForTerminal(json: string): string {
  return json.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
