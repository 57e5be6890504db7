// crc-32 types only its main entry (CRC-32); its crc32c.js entry has the same API for the Castagnoli
// polynomial. Results are signed 32-bit integers; `seed` continues a previous result.
declare module 'crc-32/crc32c.js' {
  interface Crc32cModule {
    readonly version: string;
    buf(data: Uint8Array | number[], seed?: number): number;
    bstr(data: string, seed?: number): number;
    str(data: string, seed?: number): number;
  }
  const CRC32C: Crc32cModule;
  export default CRC32C;
}
