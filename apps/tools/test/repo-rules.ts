import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';

/** One TypeScript file of the repository, by its path from the root. */
export interface SourceFile {
  path: string;
  text: string;
}

/** A rule of docs/architecture.md that lint cannot express: the offences it finds in one file. */
export interface RepoRule {
  /** Whether the rule holds for the file at `path` at all. */
  covers(path: string): boolean;
  offences(file: SourceFile): string[];
}

/** Names under which code holds an options or settings object. */
const OPTION_OBJECTS = new Set(['o', 'opts', 'options', 'cfg', 'config', 'input', 'spec', 'limits', 'settings']);

/** Library and app code that runs in production (the test harness, benchmarks and tools are not). */
const isProduct = (path: string) => !/^(libs\/testing|apps\/bench|apps\/tools)\//.test(path);
const inConfig = (path: string) => path.startsWith('libs/config/');

function parse(file: SourceFile): ts.SourceFile {
  return ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

function visit(node: ts.Node, fn: (n: ts.Node) => void): void {
  fn(node);
  ts.forEachChild(node, (child) => visit(child, fn));
}

/** Every node of `file` that `match` names, as `path:line: the line`. */
function find(file: SourceFile, match: (n: ts.Node) => boolean): string[] {
  const sf = parse(file);
  const found: string[] = [];
  visit(sf, (n) => {
    if (!match(n)) return;
    const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
    found.push(`${file.path}:${line + 1}: ${file.text.split('\n')[line].trim()}`);
  });
  return found;
}

/** The property a member access reads: `a.b` and `a['b']` both read `b`. */
function memberName(n: ts.Node): string | undefined {
  if (ts.isPropertyAccessExpression(n)) return n.name.text;
  if (ts.isElementAccessExpression(n) && ts.isStringLiteralLike(n.argumentExpression)) {
    return n.argumentExpression.text;
  }
  return undefined;
}

const isProcess = (n: ts.Node) => ts.isIdentifier(n) && n.text === 'process';
const isProcessModule = (n: ts.Node) => ts.isStringLiteral(n) && (n.text === 'process' || n.text === 'node:process');

/** `process.env`, `process['env']`, `const { env } = process`, `import { env } from 'node:process'`. */
function readsEnvironment(n: ts.Node): boolean {
  if ((ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) && memberName(n) === 'env') {
    return isProcess(n.expression) || ts.isCallExpression(n.expression); // require('process').env
  }
  if (ts.isBindingElement(n) && ts.isObjectBindingPattern(n.parent)) {
    const key = n.propertyName ?? n.name;
    const from = n.parent.parent;
    return (
      ts.isIdentifier(key) &&
      key.text === 'env' &&
      ts.isVariableDeclaration(from) &&
      from.initializer !== undefined &&
      (isProcess(from.initializer) || ts.isCallExpression(from.initializer))
    );
  }
  if (ts.isImportSpecifier(n) && (n.propertyName ?? n.name).text === 'env') {
    return isProcessModule(n.parent.parent.parent.moduleSpecifier);
  }
  return false;
}

/** A literal a default could be: numbers (also negative), strings, templates without holes, booleans. */
function isLiteral(n: ts.Node): boolean {
  if (ts.isParenthesizedExpression(n)) return isLiteral(n.expression);
  if (ts.isPrefixUnaryExpression(n)) return n.operator === ts.SyntaxKind.MinusToken && isLiteral(n.operand);
  return (
    ts.isNumericLiteral(n) ||
    ts.isStringLiteral(n) ||
    ts.isNoSubstitutionTemplateLiteral(n) ||
    n.kind === ts.SyntaxKind.TrueKeyword ||
    n.kind === ts.SyntaxKind.FalseKeyword
  );
}

/** `opts.x`, `this.cfg.a.b`, `o?.x`, `options['x']`: a read of a field of an options object. */
function readsOption(n: ts.Node): boolean {
  if (ts.isParenthesizedExpression(n) || ts.isNonNullExpression(n)) return readsOption(n.expression);
  if (!ts.isPropertyAccessExpression(n) && !ts.isElementAccessExpression(n)) return false;
  const holder = n.expression;
  if (ts.isIdentifier(holder)) return OPTION_OBJECTS.has(holder.text);
  if (memberName(holder) !== undefined && OPTION_OBJECTS.has(memberName(holder)!)) return true;
  return readsOption(holder);
}

/** An options object: named like one, or the field of one. */
function isOptionObject(n: ts.Node): boolean {
  if (ts.isIdentifier(n)) return OPTION_OBJECTS.has(n.text);
  if (ts.isNonNullExpression(n) || ts.isParenthesizedExpression(n)) return isOptionObject(n.expression);
  const name = memberName(n);
  return name !== undefined && (OPTION_OBJECTS.has(name) || readsOption(n));
}

/** The parameter or variable a destructuring pattern takes apart. */
function patternSource(pattern: ts.ObjectBindingPattern): ts.ParameterDeclaration | ts.VariableDeclaration | undefined {
  let n: ts.Node = pattern.parent;
  while (ts.isBindingElement(n)) n = n.parent.parent;
  return ts.isParameter(n) || ts.isVariableDeclaration(n) ? n : undefined;
}

/**
 * A default given outside libs/config: `opts.x ?? 5`, `opts.x || 'a'`, `{ x = 5 } = opts`, a
 * parameter `{ x = 5 }: Options` or `opts = { x: 5 }`.
 */
function defaultsOption(n: ts.Node): boolean {
  if (ts.isBinaryExpression(n)) {
    const op = n.operatorToken.kind;
    const defaulting =
      op === ts.SyntaxKind.QuestionQuestionToken ||
      op === ts.SyntaxKind.BarBarToken ||
      op === ts.SyntaxKind.QuestionQuestionEqualsToken ||
      op === ts.SyntaxKind.BarBarEqualsToken;
    return defaulting && readsOption(n.left) && isLiteral(n.right);
  }
  if (ts.isBindingElement(n) && n.initializer && isLiteral(n.initializer) && ts.isObjectBindingPattern(n.parent)) {
    const source = patternSource(n.parent);
    if (!source) return false;
    // A parameter taken apart is an options object; a variable is one when it destructures one.
    return ts.isParameter(source) || (source.initializer !== undefined && isOptionObject(source.initializer));
  }
  if (ts.isParameter(n) && ts.isIdentifier(n.name) && OPTION_OBJECTS.has(n.name.text) && n.initializer) {
    const init = n.initializer;
    return (
      isLiteral(init) ||
      (ts.isObjectLiteralExpression(init) &&
        init.properties.some((p) => ts.isPropertyAssignment(p) && isLiteral(p.initializer)))
    );
  }
  return false;
}

/** The module a node names: import, export-from, `import x = require()`, `require()`, `import()`. */
function moduleSpecifier(n: ts.Node): string | undefined {
  if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier) {
    return ts.isStringLiteral(n.moduleSpecifier) ? n.moduleSpecifier.text : undefined;
  }
  if (ts.isExternalModuleReference(n) && ts.isStringLiteral(n.expression)) return n.expression.text;
  if (ts.isCallExpression(n) && n.arguments.length > 0 && ts.isStringLiteralLike(n.arguments[0])) {
    const callee = n.expression;
    const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
    const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
    if (isRequire || isImport) return n.arguments[0].text;
  }
  return undefined;
}

/** `libs/wire` for `libs/wire/src/x.ts`: the project a repository path belongs to. */
const projectOf = (path: string) => /^(libs|apps)\/[^/]+/.exec(path)?.[0];

/** A path inside another library or app, or a package path past its name (`@vision/wire/src`). */
function crossesIntoProject(file: string, specifier: string): boolean {
  if (/^@vision\/[^/]+\//.test(specifier)) return true;
  if (!specifier.startsWith('.')) return false;
  const target = normalize(join(dirname(file), specifier));
  const project = projectOf(target);
  return project !== undefined && project !== projectOf(file);
}

/** A number written out: `5000`, `-1`, `4 * 1024`, `1 / 20`, `(2 ** 10)`. */
function isNumber(n: ts.Node): boolean {
  if (ts.isNumericLiteral(n)) return true;
  if (ts.isParenthesizedExpression(n)) return isNumber(n.expression);
  if (ts.isPrefixUnaryExpression(n)) return n.operator === ts.SyntaxKind.MinusToken && isNumber(n.operand);
  const arithmetic = [
    ts.SyntaxKind.PlusToken,
    ts.SyntaxKind.MinusToken,
    ts.SyntaxKind.AsteriskToken,
    ts.SyntaxKind.SlashToken,
    ts.SyntaxKind.AsteriskAsteriskToken,
  ];
  return ts.isBinaryExpression(n) && arithmetic.includes(n.operatorToken.kind) && isNumber(n.left) && isNumber(n.right);
}

/**
 * A module constant holding a number (`const MAX_PAGE = 1000;`) with no comment before it or after it
 * on its line: a number that is neither a setting nor says why it is fixed.
 */
function unexplainedNumber(n: ts.Node): boolean {
  if (!ts.isVariableStatement(n) || !ts.isSourceFile(n.parent)) return false;
  if (!(n.declarationList.flags & ts.NodeFlags.Const)) return false;
  const numeric = n.declarationList.declarations.some(
    (d) => ts.isIdentifier(d.name) && /^[A-Z][A-Z0-9_]*$/.test(d.name.text) && d.initializer && isNumber(d.initializer),
  );
  const text = n.getSourceFile().text;
  const commented =
    (ts.getLeadingCommentRanges(text, n.pos) ?? []).length > 0 ||
    (ts.getTrailingCommentRanges(text, n.end) ?? []).length > 0;
  return numeric && !commented;
}

export const RULES = {
  environment: {
    covers: (path) => !inConfig(path),
    offences: (file) => find(file, readsEnvironment),
  },
  optionDefaults: {
    covers: (path) => isProduct(path) && !inConfig(path),
    offences: (file) => find(file, defaultsOption),
  },
  fileLength: {
    covers: () => true,
    offences: (file) => (file.text.split('\n').length > 300 ? [`${file.path}: over 300 lines`] : []),
  },
  numericConstants: {
    covers: (path) => isProduct(path) && !inConfig(path),
    offences: (file) => find(file, unexplainedNumber),
  },
  imports: {
    covers: () => true,
    offences: (file) =>
      find(file, (n) => {
        const specifier = moduleSpecifier(n);
        return specifier !== undefined && crossesIntoProject(file.path, specifier);
      }),
  },
} satisfies Record<string, RepoRule>;
