export declare function readmeExamples(text: string): Array<{ line: number; code: string; rerun: boolean }>
