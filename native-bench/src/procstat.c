#include "procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_file(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return (int)n;
}

proc_sample_t proc_sample(pid_t pid) {
  proc_sample_t s = {0};
  char path[64], buf[4096];
  const char *who = pid ? NULL : "self";
  char num[24];
  if (!who) {
    snprintf(num, sizeof num, "%d", (int)pid);
    who = num;
  }
  snprintf(path, sizeof path, "/proc/%s/stat", who);
  if (read_file(path, buf, sizeof buf) <= 0) return s;
  /* fields after the parenthesised command name; utime and stime are fields 14 and 15 */
  char *p = strrchr(buf, ')');
  if (!p) return s;
  p += 2;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15 && *p; field++) {
    if (field == 14) utime = strtoull(p, NULL, 10);
    if (field == 15) stime = strtoull(p, NULL, 10);
    p = strchr(p, ' ');
    if (!p) break;
    p++;
  }
  static long ticks = 0;
  if (!ticks) ticks = sysconf(_SC_CLK_TCK);
  s.cpu_s = (double)(utime + stime) / (double)ticks;
  snprintf(path, sizeof path, "/proc/%s/status", who);
  if (read_file(path, buf, sizeof buf) > 0) {
    char *r = strstr(buf, "VmRSS:");
    if (r) s.rss_kb = strtoull(r + 6, NULL, 10);
  }
  s.ok = 1;
  return s;
}

long long proc_listen_overflows(void) {
  static char buf[16384];
  if (read_file("/proc/net/netstat", buf, sizeof buf) <= 0) return -1;
  /* "TcpExt: name name ...\nTcpExt: value value ...": find the column of ListenOverflows */
  char *names = strstr(buf, "TcpExt:");
  if (!names) return -1;
  char *values = strstr(names + 7, "TcpExt:");
  if (!values) return -1;
  char *np = names + 7, *vp = values + 7;
  while (*np && *np != '\n') {
    while (*np == ' ') np++;
    while (*vp == ' ') vp++;
    size_t len = strcspn(np, " \n");
    if (len == 15 && !strncmp(np, "ListenOverflows", 15)) return strtoll(vp, NULL, 10);
    np += len;
    vp += strcspn(vp, " \n");
  }
  return -1;
}

double proc_host_busy_s(void) {
  char buf[512];
  if (read_file("/proc/stat", buf, sizeof buf) <= 0 || strncmp(buf, "cpu ", 4)) return -1;
  unsigned long long v[10] = {0};
  char *p = buf + 4;
  for (int i = 0; i < 10; i++) v[i] = strtoull(p, &p, 10);
  /* user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user */
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return (double)busy / (double)sysconf(_SC_CLK_TCK);
}
