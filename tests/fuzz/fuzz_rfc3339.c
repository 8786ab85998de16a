/* RFC 3339 timestamps (lib/clock.c) as ARI windows and order objects carry
 * them: acme__parse_rfc3339 on any string; a parsed time lies within the
 * years 0000..9999 (offsets and a leap second included), and the form
 * without fraction or offset maps back to its own fields. */
#include "fuzz.h"

#include <time.h>

#include "base/clock.h"

int fuzz_rfc3339(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    if (!text)
        return 0;
    int64_t t = 0;
    int rc = acme__parse_rfc3339(text, &t);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    if (rc == 0) {
        const int64_t lo = acme__civil_to_unix(0, 1, 1, 0, 0, 0) - 24 * 3600;
        const int64_t hi = acme__civil_to_unix(9999, 12, 31, 23, 59, 60) + 24 * 3600 + 86400 * 3;
        FUZZ_ASSERT(t >= lo && t <= hi);
        /* "YYYY-MM-DDThh:mm:ssZ" with a real date and sec < 60 round-trips
         * through gmtime. */
        int y, mo, d, h, mi, s;
        char tail[4];
        if (strlen(text) == 20 &&
            sscanf(text, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%1[Zz]", &y, &mo, &d, &h, &mi, &s,
                   tail) == 7 &&
            s < 60 && y >= 1970) {
            time_t tt = (time_t)t;
            struct tm tm;
            FUZZ_ASSERT(gmtime_r(&tt, &tm) != NULL);
            static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
            int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            if (d <= mdays[mo - 1] && (mo != 2 || d <= 28 + leap))
                FUZZ_ASSERT(tm.tm_year + 1900 == y && tm.tm_mon + 1 == mo && tm.tm_mday == d &&
                            tm.tm_hour == h && tm.tm_min == mi && tm.tm_sec == s);
        }
    }
    free(text);
    return 0;
}

FUZZ_ENTRY(rfc3339);
