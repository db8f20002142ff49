/** Metadata key of @OperatorOnly, read by OperatorAuthGuard. */
export const OPERATOR_ONLY = 'exai:operator-only';

export interface OperatorOnlyOptions {
  /** Also accept `?token=`, for a page opened in a browser, which cannot set a header. */
  queryToken?: boolean;
}
