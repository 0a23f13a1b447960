// SPDX-License-Identifier: GPL-2.0-or-later
// `switchboard image build`: the firmware disk image and signed update bundle (runs image-build/build.sh).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SwitchboardError } from '../core/errors.ts';
import { repoRoot } from '../runtime/paths.ts';
import { type Command, parseIntArg, stringValue } from './command.ts';

/** The build script: everything the image needs is there, so a shell can run it as well. */
export const IMAGE_BUILD_SCRIPT = join(repoRoot, 'image-build', 'build.sh');

const build: Command = {
  name: 'image build',
  summary:
    'build the x86-64 firmware: a bootable A/B disk image and a signed RAUC update bundle of the same version',
  options: {
    version: {
      type: 'string',
      arg: 'V',
      help: 'firmware version, semver (0.2.0, 0.2.0-dev.7); default the version in package.json',
    },
    out: {
      type: 'string',
      arg: 'DIR',
      help: 'where the disk image, the slot image, the bundle and build-info.json go (default image-build/out)',
    },
    cache: {
      type: 'string',
      arg: 'DIR',
      help: 'where the Debian base tarball is kept between builds (default $SWITCHBOARD_IMAGE_CACHE or /var/cache/switchboard-image-build)',
    },
    'slot-mib': {
      type: 'string',
      arg: 'N',
      help: 'size of each root file system slot in MiB, 256-65536 (default 1536)',
    },
    'data-mib': {
      type: 'string',
      arg: 'N',
      help: 'size of the /data partition in the disk image in MiB, 64-1048576 (default 512)',
    },
    'no-bundle': {
      type: 'boolean',
      help: 'skip the update bundle (a quicker build of the disk image alone, for development)',
    },
    'keep-work': {
      type: 'boolean',
      help: 'keep the root file system tree and partition images in OUT/.work for inspection',
    },
  },
  details: [
    'Runs image-build/build.sh as root: Debian bookworm by mmdebstrap (cached by its package list),',
    "the host's Node.js, this working tree's Switchboard with its production node_modules and",
    'native builds (run `bash scripts/setup.sh` first), the systemd units, RAUC and GRUB. Signs',
    'with the development keys in image-build/dev-keys unless SWITCHBOARD_SIGNING_CERT,',
    'SWITCHBOARD_SIGNING_KEY and SWITCHBOARD_KEYRING name the release keys. Installs the Debian',
    'packages the build needs (mmdebstrap, mtools, grub-efi-amd64-bin ...) when missing. See',
    'image-build/README.md.',
  ].join('\n'),
  async run({ values }) {
    const args: string[] = [];
    const version = stringValue(values, 'version');
    if (version !== undefined) args.push('--version', version);
    const out = stringValue(values, 'out');
    if (out !== undefined) args.push('--out', out);
    const cache = stringValue(values, 'cache');
    if (cache !== undefined) args.push('--cache', cache);
    const slot = stringValue(values, 'slot-mib');
    if (slot !== undefined)
      args.push('--slot-mib', String(parseIntArg(build, '--slot-mib', slot, 256, 65536)));
    const data = stringValue(values, 'data-mib');
    if (data !== undefined)
      args.push('--data-mib', String(parseIntArg(build, '--data-mib', data, 64, 1048576)));
    if (values['no-bundle']) args.push('--no-bundle');
    if (values['keep-work']) args.push('--keep-work');
    const child = spawn('bash', [IMAGE_BUILD_SCRIPT, ...args], { stdio: 'inherit' });
    return await new Promise<number>((ok, fail) => {
      child.once('error', (err) =>
        fail(new SwitchboardError('E_COMMAND', `cannot run ${IMAGE_BUILD_SCRIPT}: ${err.message}`)),
      );
      child.once('exit', (code, signal) => ok(code ?? (signal ? 1 : 0)));
    });
  },
};

export const imageCommands: Command[] = [build];
