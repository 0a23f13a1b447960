# SPDX-License-Identifier: GPL-2.0-or-later
# node-gyp build of the native addon (C++17, node-addon-api with C++ exceptions).
{
  'targets': [
    {
      'target_name': 'switchboard',
      'sources': [
        'native/src/addon.cc',
        'native/src/amd.cc',
        'native/src/analog.cc',
        'native/src/calls.cc',
        'native/src/dahdi.cc',
        'native/src/dsp.cc',
        'native/src/dsp_napi.cc',
        'native/src/engine.cc',
        'native/src/engine_napi.cc',
        'native/src/media.cc',
        'native/src/pcap.cc',
        'native/src/pri.cc',
        'native/src/progress.cc',
        'native/src/r2.cc',
        'native/src/sdnotify.cc',
        'native/src/spans.cc',
        'native/src/ss7.cc',
        'native/src/tonezone.cc',
        'native/src/wav.cc',
      ],
      'dependencies': [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
      ],
      'defines': ['NAPI_VERSION=8'],
      'cflags!': ['-fno-exceptions', '-fno-rtti'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++20'],
      'cflags': ['-Wall', '-Wextra', '-Werror', '-fexceptions'],
      'cflags_cc': ['-std=c++17', '-fexceptions'],
      'libraries': ['-lpri', '-lss7', '-lopenr2', '-lspandsp', '-ltonezone', '-lpthread'],
    },
  ],
}
