import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes every saga keeps current, so the Temporal UI's list can filter by them. */
export const SagaStatusKey = defineSearchAttributeKey('SagaStatus', SearchAttributeType.KEYWORD);
export const SagaTypeKey = defineSearchAttributeKey('SagaType', SearchAttributeType.KEYWORD);
export const SAGA_SEARCH_ATTRIBUTES = [SagaStatusKey, SagaTypeKey];

/** `--search-attribute` flags for `temporal server start-dev`. */
export const DEV_SERVER_SEARCH_ATTRIBUTE_ARGS = ['--search-attribute', 'SagaStatus=Keyword', '--search-attribute', 'SagaType=Keyword'];
