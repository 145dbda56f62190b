{
  "targets": [
    {
      "target_name": "zt_native",
      "sources": [
        "src/addon.c",
        "src/errors.c",
        "src/sockopt.c",
        "src/open.c",
        "src/seqpacket.c",
        "src/poll.c",
        "src/memory.c",
        "src/ktls.c",
        "src/sysctl.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
