/**
 * A log file of bounded size for a process's combined output: the first `headBytes` go straight to disk,
 * the last `tailBytes` are kept in a ring, and what falls between is dropped and counted. Memory stays
 * flat however much the process prints.
 */
import * as fs from "node:fs"

export interface BoundedLogOptions {
  readonly headBytes?: number
  readonly tailBytes?: number
}

/** The last `capacity` bytes written to it. */
class ByteRing {
  private pieces: Array<Buffer> = []
  length = 0

  constructor(private readonly capacity: number) {}

  push(buffer: Buffer): void {
    if (buffer.length === 0 || this.capacity === 0) return
    this.pieces.push(Buffer.from(buffer))
    this.length += buffer.length
    while (this.length > this.capacity) {
      const first = this.pieces[0]!
      const excess = this.length - this.capacity
      if (first.length <= excess) {
        this.pieces.shift()
        this.length -= first.length
      } else {
        this.pieces[0] = first.subarray(excess)
        this.length -= excess
      }
    }
  }

  contents(): Array<Buffer> {
    return this.pieces
  }
}

export class BoundedLog {
  private readonly fd: number
  private readonly headBytes: number
  private written = 0
  private readonly tail: ByteRing
  private readonly recent = new ByteRing(16 * 1024)
  private total = 0
  private closed = false

  constructor(readonly file: string, options: BoundedLogOptions = {}) {
    this.headBytes = options.headBytes ?? 256 * 1024
    this.tail = new ByteRing(options.tailBytes ?? 256 * 1024)
    // A fresh file, never the old one truncated: a process still writing an earlier log of this path writes into the old one.
    fs.rmSync(file, { force: true })
    this.fd = fs.openSync(file, "w")
  }

  write(chunk: Buffer | string): void {
    if (this.closed) return
    let buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk
    this.total += buffer.length
    this.recent.push(buffer)
    if (this.written < this.headBytes) {
      const head = buffer.subarray(0, this.headBytes - this.written)
      fs.writeSync(this.fd, head)
      this.written += head.length
      buffer = buffer.subarray(head.length)
    }
    this.tail.push(buffer)
  }

  /** Bytes the process wrote in all. */
  get totalBytes(): number {
    return this.total
  }

  /** Writes the kept tail (with a marker for what was dropped) and closes the file. */
  close(): void {
    if (this.closed) return
    this.closed = true
    const omitted = this.total - this.written - this.tail.length
    if (omitted > 0) fs.writeSync(this.fd, `\n[twoloop: ${omitted} bytes of output omitted]\n`)
    for (const piece of this.tail.contents()) fs.writeSync(this.fd, piece)
    fs.closeSync(this.fd)
  }

  /** The last `maxLines` lines (at most `maxBytes`) of the output seen so far. */
  tailText(maxLines = 60, maxBytes = 8192): string {
    const recent = Buffer.concat(this.recent.contents())
    const text = recent.subarray(Math.max(0, recent.length - maxBytes)).toString("utf8")
    const lines = text.replace(/\n$/, "").split("\n")
    return lines.slice(Math.max(0, lines.length - maxLines)).join("\n")
  }
}

/** Splits a byte stream into lines, dropping (and counting) lines longer than `maxLineBytes`. */
export class LineSplitter {
  private partial = ""
  private overlong = false

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = 64 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === "string" ? chunk : chunk.toString("utf8")
    let start = 0
    for (;;) {
      const newline = text.indexOf("\n", start)
      if (newline === -1) break
      const piece = text.slice(start, newline)
      if (!this.overlong && this.partial.length + piece.length <= this.maxLineBytes) this.onLine((this.partial + piece).replace(/\r$/, ""))
      this.partial = ""
      this.overlong = false
      start = newline + 1
    }
    const rest = text.slice(start)
    if (this.overlong) return
    if (this.partial.length + rest.length > this.maxLineBytes) {
      this.partial = ""
      this.overlong = true
    } else this.partial += rest
  }

  end(): void {
    if (!this.overlong && this.partial.length > 0) this.onLine(this.partial.replace(/\r$/, ""))
    this.partial = ""
    this.overlong = false
  }
}
