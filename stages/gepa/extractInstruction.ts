/**
 * Parsing a reflection reply into the new instruction text. Follows the reference: the reply is stripped,
 * then the text between the first and the last ``` fence is taken (a leading language-tag line dropped),
 * with single-fence and no-fence fallbacks. One deliberate fix: an opening fence that is never closed means
 * a truncated reply, which is rejected.
 */

const fence = "```"

const countFences = (text: string): number => text.split(fence).length - 1

/**
 * The instruction inside a reflection reply (possibly empty: a reply that is only a fence holds none), or
 * `undefined` when the reply opens a fence it never closes (an odd number of fences with text after the
 * last one).
 */
export const extractInstruction = (reply: string): string | undefined => {
  const output = reply.trim()
  const fences = countFences(output)
  const last = output.lastIndexOf(fence)
  if (fences % 2 === 1 && output.slice(last + fence.length).trim().length > 0) return undefined

  const start = output.indexOf(fence) + fence.length
  if (fences === 0 || start >= last) {
    if (output.startsWith(fence)) return output.slice(/^```\S*\n?/.exec(output)![0].length).trim()
    if (output.endsWith(fence)) return output.slice(0, -fence.length).trim()
    return output
  }

  let content = output.slice(start, last)
  const languageTag = /^\S*\n/.exec(content)
  if (languageTag) content = content.slice(languageTag[0].length)
  return content.trim()
}
