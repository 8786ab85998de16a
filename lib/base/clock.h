/* Time: wall clock, monotonic milliseconds, and sleeping. */
#ifndef ACME_LIB_CLOCK_H
#define ACME_LIB_CLOCK_H

#include <stdint.h>

#define ACME__MINUTE_S 60
#define ACME__HOUR_S (60 * ACME__MINUTE_S)
#define ACME__DAY_S (24 * ACME__HOUR_S)

/* Seconds since the Unix epoch. */
int64_t acme__now(void);
/* Milliseconds from an arbitrary start, never going back. */
int64_t acme__mono_ms(void);
/* A UTC calendar time to Unix seconds (proleptic Gregorian; no timegm,
 * which is not portable). month 1-12, day 1-31. */
int64_t acme__civil_to_unix(int year, int month, int day, int hour, int min, int sec);
/* RFC 3339 date-time ("2025-01-02T04:00:00Z", fractions and +hh:mm
 * offsets allowed) to Unix seconds. 0 on success, -1 when malformed. */
int acme__parse_rfc3339(const char *s, int64_t *out);
/* Sleep ms milliseconds (resuming after signals). */
void acme__sleep_ms(int64_t ms);

#endif
