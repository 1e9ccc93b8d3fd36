/*
 * plinth's shim for protection domains written in other languages than C:
 * the functions libmicrokit's header declares `static inline` (so no
 * library holds them), made real. plinth compiles it against the SDK's own
 * microkit.h, so each is exactly the SDK's.
 */
#include <microkit.h>

void plinth_microkit_notify(microkit_channel ch) { microkit_notify(ch); }
void plinth_microkit_irq_ack(microkit_channel ch) { microkit_irq_ack(ch); }
void plinth_microkit_deferred_notify(microkit_channel ch) { microkit_deferred_notify(ch); }
void plinth_microkit_deferred_irq_ack(microkit_channel ch) { microkit_deferred_irq_ack(ch); }
microkit_msginfo plinth_microkit_ppcall(microkit_channel ch, microkit_msginfo msginfo) { return microkit_ppcall(ch, msginfo); }
microkit_msginfo plinth_microkit_msginfo_new(seL4_Word label, seL4_Uint16 count) { return microkit_msginfo_new(label, count); }
seL4_Word plinth_microkit_msginfo_get_label(microkit_msginfo msginfo) { return microkit_msginfo_get_label(msginfo); }
seL4_Word plinth_microkit_msginfo_get_count(microkit_msginfo msginfo) { return microkit_msginfo_get_count(msginfo); }
void plinth_microkit_mr_set(seL4_Uint8 mr, seL4_Word value) { microkit_mr_set(mr, value); }
seL4_Word plinth_microkit_mr_get(seL4_Uint8 mr) { return microkit_mr_get(mr); }
/* The PD's name and its array's length, whatever this SDK makes it. */
const char *plinth_microkit_name(void) { return microkit_name; }
seL4_Word plinth_microkit_name_length(void) { return MICROKIT_PD_NAME_LENGTH; }
