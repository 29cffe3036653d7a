import type { Connection } from '@temporalio/client';
// Default import: @temporalio/proto is CommonJS, so named imports fail under plain Node ESM.
import protos from '@temporalio/proto';
import { customSearchAttributes } from '../workflows/search-attributes.js';

const { IndexedValueType } = protos.temporal.api.enums.v1;
type IndexedValueType = protos.temporal.api.enums.v1.IndexedValueType;

const indexedType: Record<string, IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

/**
 * Registers the flows' custom search attributes in a namespace (idempotent: existing ones are
 * left alone). The dev server gets them by flag; a cluster or the test server through this.
 */
export async function registerSearchAttributes(connection: Pick<Connection, 'operatorService'>, namespace: string): Promise<void> {
  const searchAttributes = Object.fromEntries(
    customSearchAttributes.map((key) => [key.name, indexedType[key.type]!]),
  );
  const alreadyExists = (err: unknown) => (err as { code?: number }).code === 6;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    // ALREADY_EXISTS (6): registered before, by us or an operator.
    if (!alreadyExists(err)) throw err;
    // Some were: add the others one by one (a namespace registered before SubscriptionId existed).
    for (const [name, type] of Object.entries(searchAttributes)) {
      try {
        await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { [name]: type } });
      } catch (one) {
        if (!alreadyExists(one)) throw one;
      }
    }
  }
}
