export function words(input) {
  const text = typeof input === 'string' ? input : String(input?.text ?? 'hello from a streaming agent');
  return text.split(/\s+/).filter(Boolean);
}
