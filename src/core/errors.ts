// SPDX-License-Identifier: GPL-2.0-or-later
// The one error class of Switchboard: a stable code to branch on, a message for people.

/**
 * Every error code the controller, the CLI and the simulator client can raise.
 * Callers branch on the code, never on the message text.
 */
export const ERROR_CODES = {
  E_USAGE: 'the command line is wrong (unknown option, missing or extra argument)',
  E_CONFIG_FILE: 'a configuration file cannot be read or parsed',
  E_CONFIG_FIELD: 'a configuration field has a wrong value',
  E_SIM_NOT_BUILT: 'the simulator daemon or preload library has not been built',
  E_SIM_NOT_RUNNING: 'no simulator answers on the control socket',
  E_SIM_RUNNING: 'a simulator is already running in that directory',
  E_SIM_START: 'the simulator daemon did not come up',
  E_SIM_TIMEOUT: 'the simulator did not answer in time',
  E_SIM_PROTOCOL: 'the simulator answered something that is not the control protocol',
  E_SIM_SPAN: 'the simulator has no such span, or the span cannot do that',
  E_SIM: 'the simulator refused a request',
  E_DAHDI_CFG: 'dahdi_cfg failed to apply the DAHDI configuration',
  E_DAHDI_OPEN: 'a DAHDI device could not be opened',
  E_DAHDI_IOCTL: 'a DAHDI ioctl failed',
  E_ADDON_LOAD: 'the native addon could not be loaded',
  E_ENGINE: 'the signalling engine failed inside (a system call it needs)',
  E_ENGINE_RUNNING: 'the signalling engine is already running',
  E_ENGINE_STOPPED: 'the signalling engine is not running',
  E_COMMAND_FIELD: 'a call command has a missing or wrong field',
  E_CALL_UNKNOWN: 'no call has that id (it ended, or never existed)',
  E_TRUNK_UNKNOWN: 'no trunk has that name',
  E_CHANNEL_UNKNOWN: 'the trunk has no such channel or CIC',
  E_CHANNEL_BUSY: 'the channel or CIC cannot take a call now (busy, blocked, in alarm)',
  E_CALL_STATE: 'the call is not in a state that allows the command',
  E_TRACE: 'a signalling trace cannot be started, stopped or read on that span',
  E_RECORD_FILE: 'a recording file cannot be created or written',
  E_BENCH_UNKNOWN: 'no benchmark has that name',
  E_BENCH_INVALID: 'a benchmark module does not export run()',
  E_COMMAND: 'a command run on behalf of the user could not be started',
  E_PROMPT_MISSING: 'a prompt file, or a prompt name in the prompt sets, does not exist',
  E_PROMPT_FORMAT:
    'a prompt file is not audio the media thread can play, or an upload cannot be decoded',
  E_PROMPT_TOO_LONG: 'a prompt is longer than the longest prompt accepted',
  E_PROMPT_NAME: 'a prompt name or language is not a plain name inside the prompt directory',
  E_PROMPT_IO: 'a prompt file cannot be read or written (permissions, a directory, disk full)',
  E_TTS_INPUT: 'text-to-speech input is wrong (empty or too long text, speed out of range)',
  E_TTS_VOICE: 'espeak-ng has no voice of that name',
  E_TTS: 'espeak-ng or sox failed to render text-to-speech',
  E_SAY_INPUT:
    'a number, digit string, date or time cannot be spoken (not an integer, out of range, invalid date)',
  E_SAY_LANG: 'there are no rules for speaking numbers, dates and times in that language',
  E_STORE: 'the database cannot be opened, migrated or written',
  E_AUTH_REQUIRED: 'the API request carries no valid session cookie or API token (log in first)',
  E_FORBIDDEN: 'the caller is logged in but their role may not do that',
  E_CSRF: 'a change through a session cookie lacks the right x-csrf-token header',
  E_LOGIN_FAILED: 'the user name or password is wrong, or the account is disabled',
  E_RATE_LIMITED:
    'too many requests or failed logins from this address; retry after the given time',
  E_SETUP_DONE: 'first-run setup has already created the first admin account',
  E_PASSWORD_WEAK: 'a new password breaks the password rules (length, user name, variety)',
  E_PASSWORD_WRONG: 'the current password given to change a password is wrong',
  E_USER_UNKNOWN: 'no user account has that name',
  E_USER_EXISTS: 'a user account with that name already exists',
  E_LAST_ADMIN: 'the change would leave no enabled admin account',
  E_TOKEN_UNKNOWN: 'no API token of the caller has that id',
  E_REQUEST_FIELD: 'a request field (body, query string, path parameter) has a wrong value',
  E_REQUEST: 'the HTTP request is malformed (bad JSON, unsupported content type, body too large)',
  E_NOT_FOUND: 'no API route has that method and path',
  E_INTERNAL: 'an unexpected failure inside the controller (logged with its stack trace)',
  E_REVISION_UNKNOWN: 'no configuration revision has that id',
  E_CONFIG_CONFLICT:
    'the configuration changed since the revision a change was based on (reload and edit again)',
  E_CDR_UNKNOWN: 'no call record has that id',
  E_CDR_FIELD: 'a call record to be stored has a missing or wrong field',
  E_FLOW_INVALID: 'an IVR flow is refused (every field and node error is in details)',
  E_AGENT_UNKNOWN: 'no extension or logged-in agent has that name',
  E_AGENT_STATE: 'the agent is not in a state that allows this',
  E_FLOW_UNKNOWN: 'no IVR flow has that name, or it has no such version',
  E_FLOW_CONFLICT:
    'the IVR flow changed since the version an edit was based on (reload and edit again)',
  E_FLOW_LOG_UNKNOWN: 'no IVR flow log is kept for that call id',
  E_CAMPAIGN_FIELD: 'a dialer campaign document has a missing or wrong field',
  E_CAMPAIGN_UNKNOWN: 'no dialer campaign has that name',
  E_CAMPAIGN_EXISTS: 'a dialer campaign with that name already exists',
  E_CAMPAIGN_STATE:
    'the campaign is not in a state that allows that (start a running one, edit a running one...)',
  E_CONTACTS_FORMAT:
    'a contact list cannot be read (not UTF-8 CSV/TXT, not an XLSX workbook, no such sheet)',
  E_CONTACTS_MAPPING:
    'the import options of a contact list are wrong (a mapped column the list lacks, an unknown region or zone)',
  E_CONTACTS_LIMIT: 'a contact list is larger than the import accepts (bytes or rows)',
  E_BOARD_FRAME:
    'a board protocol message cannot be encoded (a field out of range, a payload too long)',
  E_BOARD_SERIAL:
    "the board MCU's serial device cannot be opened or made (socat, a pseudo-terminal)",
  E_CARRIER_LOG: "the simulated carrier's log cannot be read, or a line of it is not a call record",
  E_RELEASE_FILE:
    'the release file (/etc/switchboard/release.json) cannot be read or has a wrong field',
  E_FIRMWARE_UNSIGNED:
    'the upload is not a signed RAUC bundle (random bytes, a bare squashfs, an incomplete upload)',
  E_FIRMWARE_SIGNATURE:
    "the bundle's signature does not verify against the box's keyring (another signer, tampered or damaged)",
  E_FIRMWARE_MODEL: "the bundle is for another board model (its compatible is not the box's)",
  E_FIRMWARE_DOWNGRADE: 'the bundle is older than the firmware the box runs',
  E_FIRMWARE_SAME_VERSION: 'the bundle carries the firmware version the box already runs',
  E_FIRMWARE_BUNDLE:
    'the bundle is signed but is no Switchboard firmware bundle (no semantic version, no rootfs image, unknown format)',
  E_FIRMWARE_TOO_LARGE: 'the uploaded bundle is larger than the box accepts',
  E_FIRMWARE_BUSY:
    'a firmware update (or a reboot) is already under way: one at a time, wait for it to finish',
  E_FIRMWARE_INSTALL: 'RAUC failed to install the bundle to the inactive slot',
  E_FIRMWARE_UPLOAD: 'the bundle upload broke off before it was complete (connection lost)',
  E_FIRMWARE_STORAGE:
    'the bundle cannot be stored under the data directory while it is checked (disk full, permissions)',
  E_FIRMWARE_TOOL:
    'a boot tool (rauc, systemctl) cannot be run, failed, or answered something unexpected',
  E_FIRMWARE_KEYRING: "the box's keyring for firmware bundles cannot be read",
  E_FIRMWARE_UNHEALTHY:
    'after an update the controller did not come up healthy in time: the slot is marked bad and the box reboots into the other one',
  E_ORIGIN_REFUSED:
    'a browser opened the live view (WebSocket) from a page that is not served by this box',
  E_WEB_NOT_BUILT: 'the web UI has not been built (web/dist is missing: run scripts/setup.sh)',
  E_BACKUP_INVALID:
    'an uploaded restore file is not a Switchboard backup this firmware can use (not SQLite, damaged, another program, newer schema)',
  E_RESTORE_NONE: 'no restore is staged to be applied at the next start',
  E_MQTT:
    'the embedded MQTT broker cannot listen, or the NOC broker cannot be reached or refused us',
  E_MQTT_COMMAND_UNKNOWN:
    'no MQTT command has that name (bridge/request/<command>: status, block, unblock, campaign_pause, campaign_resume, trace_start, trace_stop)',
  E_SD_NOTIFY: "a notification to systemd's service manager (sd_notify) could not be sent",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** An expected failure: the CLI prints its message without a stack trace. */
export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  readonly code: ErrorCode;
  /** Machine-readable detail (for example every invalid field of a configuration). */
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

export function isSwitchboardError(err: unknown, code?: ErrorCode): err is SwitchboardError {
  return err instanceof SwitchboardError && (code === undefined || err.code === code);
}
