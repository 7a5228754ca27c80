{
  "targets": [
    {
      "target_name": "tsbpf_native",
      "sources": ["native/tsbpf.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
