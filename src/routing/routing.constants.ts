/** DI token of the routing clock (`() => number`), replaced in tests instead of faking timers. */
export const ROUTING_CLOCK = Symbol('ROUTING_CLOCK');
