/* Test-only stand-in for Windows' bcryptprimitives.dll, for Wine releases that lack it (Debian's Wine 8).
 * Rust's standard library (1.78+) imports ProcessPrng from it for random numbers; this forwards to
 * RtlGenRandom (advapi32's SystemFunction036), which Wine has. Built by scripts/test-windows.sh and placed
 * beside the test executables only; never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
