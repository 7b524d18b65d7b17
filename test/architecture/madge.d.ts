// The part of madge's API the layering test uses (madge ships no types).
declare module 'madge' {
  interface MadgeResult {
    obj(): Record<string, string[]>
    circular(): string[][]
    warnings(): { skipped: string[] }
  }
  interface MadgeConfig {
    baseDir?: string
    fileExtensions?: string[]
    tsConfig?: string
    detectiveOptions?: Record<string, unknown>
  }
  export default function madge(path: string | string[], config?: MadgeConfig): Promise<MadgeResult>
}
