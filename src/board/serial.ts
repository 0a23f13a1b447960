// SPDX-License-Identifier: GPL-2.0-or-later
// The serial line to (or of) the board MCU: serialport behind a small interface that tests can replace.

import { SerialPort } from 'serialport';
import { SwitchboardError } from '../core/errors.ts';

/** How long close() waits for written bytes to leave before closing anyway, ms. */
const DRAIN_MS = 1000;

/** What arrives on an open line. `closed` is called once, with the error if the line failed. */
export interface LineHandlers {
  data(bytes: Buffer): void;
  closed(err?: Error): void;
}

/** An open serial line. Writes never throw: a failed write closes the line (handlers.closed). */
export interface SerialLine {
  write(bytes: Uint8Array): void;
  /** Waits until written bytes have left (best effort), then closes; never rejects. */
  close(): Promise<void>;
}

export type OpenLine = (
  device: string,
  baudRate: number,
  handlers: LineHandlers,
) => Promise<SerialLine>;

/**
 * Opens a serial device with serialport (raw, 8N1, no flow control: what a board MCU's UART
 * and a pseudo-terminal both take).
 * @throws SwitchboardError E_BOARD_SERIAL when the device cannot be opened
 */
export const openSerialLine: OpenLine = (device, baudRate, handlers) =>
  new Promise((resolve, reject) => {
    const port = new SerialPort({ path: device, baudRate, autoOpen: false, hupcl: false });
    let open = false;
    let done = false;
    const closed = (err?: Error) => {
      if (done || !open) return;
      done = true;
      handlers.closed(err);
    };
    port.on('data', (chunk: Buffer) => handlers.data(chunk));
    port.on('error', (err: Error) => closed(err));
    port.on('close', (err?: Error | null) => closed(err ?? undefined));
    port.open((err) => {
      if (err) {
        reject(
          new SwitchboardError('E_BOARD_SERIAL', `cannot open ${device}: ${err.message}`, {
            cause: err,
          }),
        );
        return;
      }
      open = true;
      resolve({
        write(bytes) {
          if (done) return;
          port.write(Buffer.from(bytes), (e) => {
            if (e) closed(e);
          });
        },
        close: () =>
          new Promise<void>((ok) => {
            if (done || !port.isOpen) {
              done = true;
              ok();
              return;
            }
            done = true;
            // tcdrain can wait for ever on a line nobody reads: close after DRAIN_MS regardless.
            let shut = false;
            const shutNow = () => {
              if (shut) return;
              shut = true;
              port.close(() => ok());
            };
            const timer = setTimeout(shutNow, DRAIN_MS);
            port.drain(() => {
              clearTimeout(timer);
              shutNow();
            });
          }),
      });
    });
  });
