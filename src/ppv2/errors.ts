/**
 * What the codec's encoders and builders throw for a value they cannot represent (a field out of range, a
 * TLV too long, a malformed spec). The codec is pure and knows nothing of exit codes, so this is a plain
 * RangeError, like the map record codecs throw; the layers that take user input map it to a usage error.
 * Decoders never throw it for data: they return an invalid result instead.
 */
export class Ppv2ValueError extends RangeError {
  /** A suggested fix for the person who wrote the value, e.g. the TLV spec syntax. */
  readonly hint: string | undefined;

  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'Ppv2ValueError';
    this.hint = hint;
  }
}
