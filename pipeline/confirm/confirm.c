/*
 * plinth's confirming protection domain. Once the system is up, it marks
 * the slot on trial good on the state partition, the client partition sDDF's
 * block virtualiser gives it: two copies of a U-Boot environment, one
 * BLK_TRANSFER_SIZE block each, the valid one with the higher plinth_seq
 * winning. It writes the confirmed state over the other copy with the next
 * number, as plinth update confirm and U-Boot's boot script do, so a power
 * cut during the write leaves the state before it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <microkit.h>
#include <sddf/blk/config.h>
#include <sddf/blk/queue.h>
#include <sddf/blk/storage_info.h>
#include <sddf/util/printf.h>

#define COPY_SIZE 4096 /* update.StateCopySize */
#define MAX_VARS 64

__attribute__((__section__(".blk_client_config"))) blk_client_config_t config;

static blk_queue_handle_t queue;
static enum { READING, WRITING, DONE } phase;
static uint64_t write_block;

static uint32_t crc32(const uint8_t *p, uint64_t n)
{
    uint32_t c = 0xffffffff;
    for (uint64_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xedb88320 & -(c & 1));
        }
    }
    return ~c;
}

static bool valid(const uint8_t *copy)
{
    uint32_t stored = copy[0] | copy[1] << 8 | copy[2] << 16 | (uint32_t)copy[3] << 24;
    return stored == crc32(copy + 4, COPY_SIZE - 4);
}

static bool same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++, b++;
    }
    return *a == *b;
}

/* The value of name in a copy, or 0. */
static const char *get(const uint8_t *copy, const char *name)
{
    const char *p = (const char *)copy + 4, *end = (const char *)copy + COPY_SIZE;
    while (p < end && *p) {
        const char *eq = p;
        while (eq < end && *eq && *eq != '=') {
            eq++;
        }
        uint64_t len = eq - p;
        bool match = *eq == '=';
        for (uint64_t i = 0; match && i < len; i++) {
            match = name[i] == p[i];
        }
        if (match && name[len] == 0) {
            return eq + 1;
        }
        while (p < end && *p) {
            p++;
        }
        p++;
    }
    return 0;
}

static uint64_t number(const char *v)
{
    uint64_t n = 0;
    if (!v) {
        return 0;
    }
    if (v[0] == '0' && v[1] == 'x') {
        for (v += 2; *v; v++) {
            n = n * 16 + (*v <= '9' ? *v - '0' : (*v | 0x20) - 'a' + 10);
        }
        return n;
    }
    for (; *v; v++) {
        n = n * 10 + (*v - '0');
    }
    return n;
}

/* Writes copy with the changed variables into out, with its CRC. */
static void rewrite(const uint8_t *copy, uint8_t *out, const char *names[], const char *values[], int changes)
{
    char *o = (char *)out + 4;
    const char *p = (const char *)copy + 4, *end = (const char *)copy + COPY_SIZE;
    for (uint64_t i = 0; i < COPY_SIZE; i++) {
        out[i] = 0xff;
    }
    while (p < end && *p) {
        const char *eq = p;
        while (*eq && *eq != '=') {
            eq++;
        }
        const char *value = eq + 1;
        for (int i = 0; i < changes; i++) {
            uint64_t len = eq - p, k = 0;
            while (k < len && names[i][k] == p[k]) {
                k++;
            }
            if (k == len && names[i][len] == 0) {
                value = values[i];
            }
        }
        for (const char *q = p; q < eq + 1; q++) {
            *o++ = *q;
        }
        while (*value) {
            *o++ = *value++;
        }
        *o++ = 0;
        while (*p) {
            p++;
        }
        p++;
    }
    *o++ = 0;
    uint32_t c = crc32(out + 4, COPY_SIZE - 4);
    out[0] = c, out[1] = c >> 8, out[2] = c >> 16, out[3] = c >> 24;
}

static void confirm(void)
{
    uint8_t *copies = (uint8_t *)config.data.vaddr;
    uint8_t *out = copies + 2 * COPY_SIZE;
    int best = -1;
    for (int i = 0; i < 2; i++) {
        const uint8_t *c = copies + i * COPY_SIZE;
        if (valid(c) && get(c, "plinth_seq") && (best < 0 || number(get(c, "plinth_seq")) > number(get(copies + best * COPY_SIZE, "plinth_seq")))) {
            best = i;
        }
    }
    if (best < 0) {
        sddf_printf("UPDATE|ERROR: the state partition holds no valid state\n");
        phase = DONE;
        return;
    }
    const uint8_t *cur = copies + best * COPY_SIZE;
    const char *trial = get(cur, "plinth_trial");
    if (!trial || same(trial, "none")) {
        sddf_printf("UPDATE|INFO: slot %s is the good one; nothing on trial to confirm\n", get(cur, "plinth_active"));
        phase = DONE;
        return;
    }
    char floor_name[] = "plinth_?_floor";
    floor_name[7] = trial[0];
    uint64_t floor = number(get(cur, "plinth_floor")), slot_floor = number(get(cur, floor_name));
    static char seq[24], new_floor[24], slot[2];
    sddf_snprintf(seq, sizeof(seq), "0x%lx", (unsigned long)(number(get(cur, "plinth_seq")) + 1));
    sddf_snprintf(new_floor, sizeof(new_floor), "0x%lx", (unsigned long)(slot_floor > floor ? slot_floor : floor));
    slot[0] = trial[0];
    const char *names[] = { "plinth_seq", "plinth_active", "plinth_trial", "plinth_left", "plinth_floor" };
    const char *values[] = { seq, slot, "none", "0x0", new_floor };
    rewrite(cur, out, names, values, 5);
    write_block = best == 0 ? 1 : 0;
    sddf_printf("UPDATE|INFO: the system is up: confirming slot %s (version %s)\n", slot, get(cur, trial[0] == 'a' ? "plinth_a_version" : "plinth_b_version"));
    int err = blk_enqueue_req(&queue, BLK_REQ_WRITE, 2 * COPY_SIZE, write_block, 1, 1);
    if (err) {
        sddf_printf("UPDATE|ERROR: the block queue is full\n");
        phase = DONE;
        return;
    }
    phase = WRITING;
    microkit_notify(config.virt.id);
}

void init(void)
{
    if (!blk_config_check_magic(&config)) {
        sddf_printf("UPDATE|ERROR: no block client config\n");
        return;
    }
    blk_queue_init(&queue, config.virt.req_queue.vaddr, config.virt.resp_queue.vaddr, config.virt.num_buffers);
    blk_storage_info_t *info = config.virt.storage_info.vaddr;
    while (!blk_storage_is_ready(info)) {
    }
    if (blk_enqueue_req(&queue, BLK_REQ_READ, 0, 0, 2, 0)) {
        sddf_printf("UPDATE|ERROR: the block queue is full\n");
        return;
    }
    phase = READING;
    microkit_notify(config.virt.id);
}

void notified(microkit_channel ch)
{
    blk_resp_status_t status;
    uint16_t count;
    uint32_t id;
    if (ch != config.virt.id || blk_dequeue_resp(&queue, &status, &count, &id)) {
        return;
    }
    if (status != BLK_RESP_OK) {
        sddf_printf("UPDATE|ERROR: the state partition could not be %s\n", phase == READING ? "read" : "written");
        phase = DONE;
        return;
    }
    if (phase == READING) {
        confirm();
    } else if (phase == WRITING) {
        sddf_printf("UPDATE|INFO: confirmed: the state's copy %lu holds the good slot\n", (unsigned long)write_block);
        phase = DONE;
    }
}
