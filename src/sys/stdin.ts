/**
 * All of stdin as bytes. Read through the stream API: a synchronous read of fd 0 fails with EAGAIN when
 * stdin is a non-blocking pipe, which is how Node sets up pipes from other processes.
 */
export async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
