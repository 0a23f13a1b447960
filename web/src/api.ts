// SPDX-License-Identifier: GPL-2.0-or-later
// The API client: JSON requests with the session's CSRF token, errors as ApiError, uploads with progress.

/** An API refusal: the stable code, the message for people, the field errors when there are some. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let csrf: string | undefined;
const sessionEnded = new Set<() => void>();

/** The CSRF token of the session (from login, setup or GET /api/me). */
export function setCsrf(token: string | undefined): void {
  csrf = token;
}

/** Tells the application that the session has ended (a 401, or the live socket closed for it). */
export function endSession(): void {
  for (const fn of sessionEnded) fn();
}

/** Called when a request is answered 401: the session has ended (logout elsewhere, timeout). */
export function onSessionEnded(fn: () => void): () => void {
  sessionEnded.add(fn);
  return () => sessionEnded.delete(fn);
}

export interface RequestOptions {
  /** Send `body` as is with this content type (YAML text, a file). */
  contentType?: string;
  /** Do not report a 401 as the end of the session (the login form itself). */
  quiet401?: boolean;
}

function toError(status: number, text: string): ApiError {
  try {
    const j = JSON.parse(text) as { error?: string; message?: string; details?: unknown };
    if (typeof j.error === 'string')
      return new ApiError(status, j.error, j.message ?? j.error, j.details);
  } catch {
    // Not the API's error shape (a proxy's page): the status says enough.
  }
  return new ApiError(status, `HTTP_${status}`, text.slice(0, 200) || `HTTP ${status}`);
}

/** One API request; resolves with the JSON answer (undefined for 204). */
export async function api<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  opts: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['x-csrf-token'] = csrf;
  let payload: BodyInit | undefined;
  if (opts.contentType !== undefined) {
    headers['content-type'] = opts.contentType;
    payload = body as BodyInit;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await res.text();
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) endSession();
    throw toError(res.status, text);
  }
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/**
 * An upload that reports its progress (fetch cannot): the body as is, with the CSRF token.
 * `progress` gets the fraction sent, 0..1.
 */
export function upload<T>(
  method: string,
  url: string,
  body: Blob | string,
  contentType: string,
  progress: (fraction: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader('content-type', contentType);
    xhr.setRequestHeader('accept', 'application/json');
    if (csrf) xhr.setRequestHeader('x-csrf-token', csrf);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress(e.loaded / e.total);
    };
    xhr.onload = () => {
      progress(1);
      if (xhr.status >= 200 && xhr.status < 300)
        resolve((xhr.responseText === '' ? undefined : JSON.parse(xhr.responseText)) as T);
      else {
        if (xhr.status === 401) endSession();
        reject(toError(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the box did not answer (network)'));
    xhr.send(body);
  });
}

/** A query string from the fields that are set. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** The field errors of a refusal (`details` of E_CONFIG_FIELD, E_PASSWORD_WEAK, E_FLOW_INVALID...). */
export function fieldErrors(err: unknown): { path: string; message: string }[] {
  if (!(err instanceof ApiError) || !Array.isArray(err.details)) return [];
  return (err.details as unknown[]).filter(
    (d): d is { path: string; message: string } =>
      typeof d === 'object' &&
      d !== null &&
      typeof (d as { path?: unknown }).path === 'string' &&
      typeof (d as { message?: unknown }).message === 'string',
  );
}

/** A file's text (for YAML and JSON uploads). */
export function readText(file: Blob): Promise<string> {
  return file.text();
}
