{
  "targets": [
    {
      "target_name": "procconn",
      "sources": ["procconn.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2", "-pthread"],
      "ldflags": ["-pthread"],
      "conditions": [["OS!='linux'", { "sources!": ["procconn.c"] }]]
    }
  ]
}
