/* A stand-in for Windows' bcryptprimitives.dll, for running the Windows build of the tests
 * under wine versions that lack it (Debian's wine 8.0): Rust's standard library imports
 * ProcessPrng from it (for HashMap seeds). Implemented with RtlGenRandom (advapi32's
 * SystemFunction036), which wine has. Built and put beside the test executables by
 * scripts/windows-tests.sh; never shipped, never used on Windows itself. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
