/* libFuzzer driver for the config loader: any bytes go through config_load_string with error and
 * warning buffers, and everything is freed.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *     fuzz/fuzz_config.c src/gateway/config.c src/base/[a-z]*.c \
 *     $(pkg-config --cflags --libs libfyaml) -o build-fuzz/fuzz_config
 *   build-fuzz/fuzz_config -max_total_time=30 fuzz/corpus/config
 *
 * The seeds set environment variables of their own (TG_FUZZ_*), so interpolation is exercised with
 * both set and unset names. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "gateway/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libfyaml 0.7.12 (Debian 12) leaks its atom iterator when a single-quoted scalar holds a long run
 * of '' escapes (fy_token_get_text -> fy_atom_format_text returns NULL without cleaning up; fixed
 * upstream in 0af6061 "atom: Call iter_finish on error", after 0.7.12). The loader reports such a
 * value as an error. Only allocations made inside libfyaml are suppressed here, so leaks in our
 * code are still found (unlike -detect_leaks=0). */
const char *__lsan_default_suppressions(void)
{
    return "leak:libfyaml.so\n";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("TG_FUZZ_KEY", "sk-fuzz", 1);
    setenv("TG_FUZZ_EMPTY", "", 1);
    setenv("TG_FUZZ_PORT", "4100", 1);
    unsetenv("TG_FUZZ_UNSET");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf errors = BUF_INIT, warnings = BUF_INIT;
    struct config *c = NULL;
    int rc = config_load_string((const char *)data, size, "fuzz", &c, &errors, &warnings);
    if (rc == 0) {
        /* touch what a caller would read */
        for (size_t i = 0; i < c->n_models; i++)
            (void)config_find_model(c, c->models[i].name, 0);
        config_unref(config_ref(c));
        config_unref(c);
    } else if (c || !errors.len) {
        abort(); /* a failure must leave *out NULL and say why */
    }
    buf_free(&errors);
    buf_free(&warnings);
    return 0;
}
