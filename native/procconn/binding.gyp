{
  "targets": [
    {
      "target_name": "procconn",
      "sources": ["procconn.c", "reader.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2", "-pthread"],
      "ldflags": ["-pthread"],
      "conditions": [["OS!='linux'", { "sources!": ["procconn.c", "reader.c"] }]]
    },
    {
      "target_name": "sniffwatch-run",
      "type": "executable",
      "sources": ["launcher.c", "reader.c"],
      "include_dirs": ["generated"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "conditions": [["OS!='linux'", { "type": "none", "sources!": ["launcher.c", "reader.c"] }]]
    }
  ]
}
