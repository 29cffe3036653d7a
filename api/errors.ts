import { z } from 'zod';

/** Every error the API answers with has this body; `issues` names each bad field on a 400. */
export const apiErrorBody = z.object({
  error: z.string(),
  message: z.string(),
  issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type ApiErrorBody = z.infer<typeof apiErrorBody>;

/** Thrown by handlers for an expected, typed answer (404, 409, 401, …); `headers` go out with it (Retry-After, WWW-Authenticate). */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: ApiErrorBody['issues'],
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const errorResponses = { 400: apiErrorBody, 401: apiErrorBody, 404: apiErrorBody, 409: apiErrorBody, 503: apiErrorBody } as const;
