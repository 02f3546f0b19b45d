/* A stand-in for Windows 10's bcryptprimitives.dll, for running dcd's Windows build under
 * Wine 8, which lacks it: Rust's standard library takes its random bytes from ProcessPrng
 * there. This one answers from RtlGenRandom (advapi32), which Wine has. Built and put in the
 * test Wine prefix by tests/scripts/wine.sh; never shipped (Windows 10 and later have the
 * real one). */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n)) {
            return FALSE;
        }
        data += n;
        len -= n;
    }
    return TRUE;
}
