/**
 * Lines an orchestrator could send that are not a valid `http_request`, and the
 * 400 each is owed: none when its `request_id` cannot be read (not an object,
 * no id, a non-string id, an id with a lone surrogate that cannot be written back).
 */
export const HOSTILE_LINES: ReadonlyArray<{ line: string, answer?: { id: string, names: RegExp } }> = [
  { line: 'null' },
  { line: 'true' },
  { line: '"str"' },
  { line: '[]' },
  { line: '{"op":null}' },
  { line: '{"op":"http_request"}' },
  { line: '{"op":"http_request","request_id":null}' },
  { line: '{"op":"http_request","request_id":"\\ud800"}' },
  { line: '{"op":"http_request","request_id":"x"}', answer: { id: 'x', names: /`method`/ } }
]
