import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** One text a `hint` can take, where it is written. Unknown parts (`${name}`) are HOLE. */
export interface HintText {
  where: string;
  text: string;
}

/** Stands for a part of a template that is only known at run time (a user's name, a list). */
export const HOLE = '\u2026';

const MAX_VARIANTS = 64;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function product(parts: string[][]): string[] {
  let out = [''];
  for (const alternatives of parts) {
    const next: string[] = [];
    for (const head of out) for (const tail of alternatives) next.push(head + tail);
    out = next.slice(0, MAX_VARIANTS);
  }
  return out;
}

/** Module-level `const NAME = <expr>` of one file, so `hint: RECOVER` is followed. */
function fileConstants(file: ts.SourceFile): Map<string, ts.Expression> {
  const out = new Map<string, ts.Expression>();
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const decl of statement.declarationList.declarations) {
      if (ts.isIdentifier(decl.name) && decl.initializer !== undefined) out.set(decl.name.text, decl.initializer);
    }
  }
  return out;
}

/**
 * Every string an expression can evaluate to, as far as the source says: literals, templates
 * (run-time parts become HOLE), both branches of `?:`, `??` and `||`, `+`, and module constants.
 */
function texts(expr: ts.Expression, constants: Map<string, ts.Expression>, depth = 0): string[] {
  if (depth > 8) return [HOLE];
  if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) return [expr.text];
  if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr)) return texts(expr.expression, constants, depth + 1);
  if (ts.isTemplateExpression(expr)) {
    const parts: string[][] = [[expr.head.text]];
    for (const span of expr.templateSpans) {
      parts.push(texts(span.expression, constants, depth + 1), [span.literal.text]);
    }
    return product(parts);
  }
  if (ts.isConditionalExpression(expr)) {
    return [...texts(expr.whenTrue, constants, depth + 1), ...texts(expr.whenFalse, constants, depth + 1)];
  }
  if (ts.isBinaryExpression(expr)) {
    const op = expr.operatorToken.kind;
    if (op === ts.SyntaxKind.QuestionQuestionToken || op === ts.SyntaxKind.BarBarToken) {
      return [...texts(expr.left, constants, depth + 1), ...texts(expr.right, constants, depth + 1)];
    }
    if (op === ts.SyntaxKind.PlusToken) {
      return product([texts(expr.left, constants, depth + 1), texts(expr.right, constants, depth + 1)]);
    }
  }
  if (ts.isIdentifier(expr)) {
    if (expr.text === 'undefined') return [];
    const value = constants.get(expr.text);
    if (value !== undefined) return texts(value, constants, depth + 1);
  }
  return [HOLE];
}

/**
 * Every hint text written in `srcDir`: the values of `hint:` properties, of variables named
 * `hint`, and the arguments passed for a parameter named `hint` (helpers such as
 * `bad(message, hint)`), wherever those helpers are called.
 */
export function collectHints(srcDir: string): HintText[] {
  const files = sourceFiles(srcDir).map((path) => ({
    path,
    file: ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true),
  }));

  // Functions with a parameter named `hint` (name -> its index), per file: a call resolves
  // to the file's own function of that name, else to an exported one of another file.
  const local = new Map<ts.SourceFile, Map<string, number | null>>();
  const exported = new Map<string, number>();
  for (const { file } of files) {
    const mine = new Map<string, number | null>();
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionDeclaration(node) && node.name !== undefined) {
        const index = node.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === 'hint');
        mine.set(node.name.text, index >= 0 ? index : null);
        const isExported = node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false;
        if (index >= 0 && isExported) exported.set(node.name.text, index);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
    local.set(file, mine);
  }
  const hintIndex = (file: ts.SourceFile, name: string): number | undefined => {
    const mine = local.get(file)!;
    if (mine.has(name)) return mine.get(name) ?? undefined;
    return exported.get(name);
  };

  const out: HintText[] = [];
  for (const { path, file } of files) {
    const constants = fileConstants(file);
    const add = (expr: ts.Expression, at: ts.Node): void => {
      const { line } = file.getLineAndCharacterOfPosition(at.getStart());
      const where = `${relative(join(srcDir, '..'), path)}:${line + 1}`;
      for (const text of texts(expr, constants)) out.push({ where, text });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'hint') {
        add(node.initializer, node);
      } else if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === 'hint') {
        if (node.initializer !== undefined) add(node.initializer, node);
      } else if (
        ts.isBinaryExpression(node) &&
        node.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
        ts.isIdentifier(node.left) &&
        node.left.text === 'hint'
      ) {
        add(node.right, node);
      } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) {
        const index = hintIndex(file, node.expression.text);
        const arg = index === undefined ? undefined : node.arguments[index];
        // A helper passing its own `hint` parameter on is covered at its call sites.
        if (arg !== undefined && !(ts.isIdentifier(arg) && arg.text === 'hint')) add(arg, node);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return out.filter((h) => h.text !== HOLE);
}

/**
 * Names the public API declares: members of the classes and interfaces in `files` (Store,
 * KvNamespace, Collection, their option and result types, StrataError), `#private` ones excluded.
 */
export function declaredNames(files: readonly string[]): { members: Set<string>; methods: Map<string, Set<string>> } {
  const members = new Set<string>();
  const methods = new Map<string, Set<string>>();
  for (const path of files) {
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if ((ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) && node.name !== undefined) {
        const own = new Set<string>();
        for (const member of node.members) {
          const name = member.name;
          if (name === undefined || ts.isPrivateIdentifier(name)) continue;
          if (!ts.isIdentifier(name) && !ts.isStringLiteral(name)) continue;
          members.add(name.text);
          if (ts.isMethodDeclaration(member) || ts.isMethodSignature(member) || ts.isGetAccessor(member)) own.add(name.text);
        }
        methods.set(node.name.text, own);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return { members, methods };
}
