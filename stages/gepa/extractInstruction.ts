/**
 * Parsing a reflection reply into the new instruction text. Follows the reference fence rules (first and
 * last ``` fence, a leading language-tag line dropped, single-fence and no-fence fallbacks) with one
 * deliberate fix: an opening fence that is never closed means a truncated reply, which is rejected.
 */

const fence = "```"

const countFences = (text: string): number => text.split(fence).length - 1

/**
 * The instruction inside a reflection reply, or `undefined` when the reply opens a fence it never closes
 * (an odd number of fences with non-blank text after the last one).
 */
export const extractInstruction = (output: string): string | undefined => {
  const fences = countFences(output)
  const last = output.lastIndexOf(fence)
  if (fences % 2 === 1 && output.slice(last + fence.length).trim().length > 0) return undefined

  const start = output.indexOf(fence) + fence.length
  if (fences === 0 || start >= last) {
    const stripped = output.trim()
    if (stripped.startsWith(fence)) {
      const opening = /^```\S*\n?/.exec(output)
      return opening ? output.slice(opening[0].length).trim() : stripped
    }
    if (stripped.endsWith(fence)) return stripped.slice(0, -fence.length).trim()
    return stripped
  }

  let content = output.slice(start, last)
  const languageTag = /^\S*\n/.exec(content)
  if (languageTag) content = content.slice(languageTag[0].length)
  return content.trim()
}
