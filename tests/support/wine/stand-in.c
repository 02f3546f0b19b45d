/* A stand-in release binary for `dcd upgrade` under Wine (tests/scripts/cross-test.sh): it
 * prints the version it was built with, as `dcd --version` would. */
#include <stdio.h>

int main(void) {
    puts(VERSION);
    return 0;
}
