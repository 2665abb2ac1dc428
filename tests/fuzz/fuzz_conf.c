/* libFuzzer target for postseal.conf parsing: any bytes must give either a
 * config or one error line, never a crash, a leak or an unterminated message.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_conf *conf = NULL;
    ps_err err = {""};

    if (ps_conf_parse((const char *)data, size, "fuzz.conf", &conf, &err) ==
        0) {
        /* walk what was kept, so a bad pointer shows up here */
        for (size_t i = 0; i < conf->nsigning; i++)
            for (size_t k = 0; k < conf->signing[i].nkeys; k++)
                if (ps_conf_find_key(conf, conf->signing[i].keys[k]) == NULL)
                    __builtin_trap();
        ps_conf_free(conf);
    } else if (conf != NULL || memchr(err.msg, '\0', sizeof(err.msg)) == NULL ||
               strncmp(err.msg, "fuzz.conf", 9) != 0) {
        __builtin_trap();
    }
    return 0;
}
