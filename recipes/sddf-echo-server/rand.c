/*
 * rand() for lwIP (its LWIP_RAND) without thread-local storage: picolibc's
 * keeps its state there, and a Microkit protection domain has no thread
 * pointer, so picolibc's rand() faults. xorshift64; lwIP needs only
 * varied DHCP transaction ids and port numbers from it.
 */
static unsigned long long state = 0x9e3779b97f4a7c15ULL;

int rand(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (int)(state >> 33);
}
