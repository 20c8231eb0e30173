/** Let in (with the rate headers to answer with), or refused: every refusal is a 429 RATE_LIMITED saying `detail`. */
export type Admission = { refused: Response; detail: string } | { headers: Record<string, string> };
