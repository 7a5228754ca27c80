// The two mappings of a BPF ring, shared by the ring buffer reader and the user ring buffer
// writer: the consumer page, and the producer page followed by the data area mapped twice.
import { CONSUMER_PAGE_OFFSET, producerPageOffset } from './layout.js';
import { Mapping, pageSize, PROT_READ, PROT_WRITE } from './mapping.js';
import { Position64 } from './position.js';

export class RingPages {
  readonly consumerPos: Position64;
  readonly producerPos: Position64;
  /** The data area, twice, as 32-bit words for the header loads. */
  readonly words: Int32Array;
  /** The data area, twice. */
  readonly data: Uint8Array;
  readonly #consumerPage: Mapping;
  readonly #producerPages: Mapping;

  /**
   * Maps the ring of map `fd` with a data area of `size` bytes. `writer` says whose position
   * this process moves: the consumer's (a ring buffer reader) or the producer's (a user ring
   * buffer writer); only that side is mapped writable.
   */
  constructor(fd: number, size: number, writer: 'consumer' | 'producer', what: string) {
    const rw = PROT_READ | PROT_WRITE;
    this.#consumerPage = new Mapping(fd, pageSize(), writer === 'consumer' ? rw : PROT_READ, CONSUMER_PAGE_OFFSET, what);
    try {
      this.#producerPages = new Mapping(fd, pageSize() + 2 * size, writer === 'producer' ? rw : PROT_READ, producerPageOffset(), what);
    } catch (err) {
      this.#consumerPage.unmap();
      throw err;
    }
    this.consumerPos = new Position64(this.#consumerPage.buffer, 0);
    this.producerPos = new Position64(this.#producerPages.buffer, 0);
    this.words = new Int32Array(this.#producerPages.buffer, pageSize(), (2 * size) / 4);
    this.data = new Uint8Array(this.#producerPages.buffer, pageSize(), 2 * size);
  }

  unmap(): void {
    this.#producerPages.unmap();
    this.#consumerPage.unmap();
  }
}
