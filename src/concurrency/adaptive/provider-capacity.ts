/**
 * The seam between admission and whatever decides a provider's limit at run
 * time. Admission asks it for each provider; a provider it does not answer
 * for keeps its configured (static) limit.
 */
export abstract class ProviderCapacity {
  /** The limit to admit against now, or undefined for the configured one. */
  abstract limitOf(provider: string): number | undefined;

  /** Called whenever a limit rises, so waiters that now fit are admitted at once. */
  abstract onRaised(listener: () => void): void;
}
