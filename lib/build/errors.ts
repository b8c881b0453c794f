/** A user's source could not be built; the message is safe to show its owner. */
export class BuildError extends Error {
  override readonly name = 'BuildError';
}
