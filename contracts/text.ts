import { z } from 'zod';

/**
 * Text a person typed (a reference, a description, a token pasted from a widget): at most `max`
 * characters and not blank, trimmed. Checked as sent, before trimming, so the OpenAPI document's
 * `maxLength` and `pattern` say exactly what is accepted (a blank or over-long value is refused,
 * whatever whitespace it carries).
 */
export const nonBlankText = (max: number) => z.string().max(max).regex(/\S/, 'must not be blank').trim();
